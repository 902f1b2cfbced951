"""The client cabinet on SQLite and PostgreSQL: isolation between companies (page, JSON,
CSV), dead links answering the same 404 as unknown ones, headers, read-only, KPIs equal to
``deskpilot report --company``, statement pages adding up to the ledger's own statement,
and the ``deskpilot cabinet`` commands."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from plugin import ledger
from plugin.app import create_app
from plugin.cabinet import links
from plugin.context import Context, set_context
from tests.cabinet_support import NOW, issue_link, lifecycle, make_ctx


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    c = make_ctx(db_url, tmp_path)
    lifecycle(c)
    monkeypatch.setattr("plugin.cabinet.web.utcnow", lambda: NOW)
    yield c
    set_context(None)
    c.close()


@pytest.fixture
def client(ctx: Context) -> Any:
    return create_app(context=ctx).test_client()


def _tickets(data: dict[str, Any]) -> set[str]:
    tasks = data["tasks"]
    return {t["ticket"] for t in (*tasks["open"], *tasks["finished"])}


def test_each_link_shows_only_its_own_company(ctx: Context, client: Any) -> None:
    a, b = issue_link(ctx, "acme"), issue_link(ctx, "globex")
    got_a = client.get(f"/api/cabinet/{a}").get_json()
    got_b = client.get("/api/cabinet", headers={"Authorization": f"Bearer {b}"}).get_json()
    assert _tickets(got_a) == {"T-1", "T-2", "T-3"}
    assert _tickets(got_b) == {"G-1"}
    assert got_b["company"]["id"] == "globex"
    # globex: its own package of 10, one credit debited for G-1
    assert (got_b["credits"]["balance"], got_b["credits"]["available"]) == (9, 9)
    assert got_a["credits"]["balance"] == 19
    assert [lot["lot_id"] for lot in got_b["credits"]["lots"]] == [4]
    assert {e["ticket"] for e in got_b["statement"]["entries"]} <= {None, "G-1"}
    assert [e["balance"] for e in got_b["statement"]["entries"]][0] == 9
    # globex resolved G-1 on time; acme's one resolution was late
    assert got_b["kpis"]["values"]["on_time"]["value"] == 1.0
    assert got_a["kpis"]["values"]["on_time"]["value"] == 0.0
    page_b = client.get(f"/cabinet/{b}").get_data(as_text=True)
    for secret in ("T-1", "T-2", "T-3", "warehouse", "ACME", "invoices"):
        assert secret not in page_b
    assert "Globex secret project question" in page_b
    csv_b = client.get(f"/cabinet/{b}/statement.csv").get_data(as_text=True)
    assert "G-1" in csv_b and not any(t in csv_b for t in ("T-1", "T-2", "T-3"))
    # and the other way round
    page_a = client.get(f"/cabinet/{a}").get_data(as_text=True)
    assert "Globex" not in page_a and "G-1" not in page_a


def _dead(client: Any, token: str) -> None:
    page = client.get(f"/cabinet/{token}")
    api = client.get(f"/api/cabinet/{token}")
    bearer = client.get("/api/cabinet", headers={"Authorization": f"Bearer {token}"})
    dl = client.get(f"/cabinet/{token}/statement.csv")
    assert (page.status_code, api.status_code, bearer.status_code, dl.status_code) == (
        404, 404, 404, 404)
    assert page.data == dl.data == client.get("/cabinet/" + "x" * 43).data
    assert api.get_json() == bearer.get_json() == {
        "code": "not-found", "status": 404, "message": "no cabinet here", "errors": {}}


def test_wrong_revoked_and_expired_links_answer_the_same_404(ctx: Context, client: Any,
                                                             monkeypatch: Any) -> None:
    for wrong in ("x" * 43, "short", "%00" * 3, "A" * 200):
        _dead(client, wrong)
    assert client.get("/api/cabinet").status_code == 404  # no credential at all
    old = issue_link(ctx, "acme")
    assert client.get(f"/cabinet/{old}").status_code == 200
    with ctx.db.session() as s:
        new = links.rotate(s, "acme", NOW).token
    _dead(client, old)
    assert client.get(f"/cabinet/{new}").status_code == 200
    short = issue_link(ctx, "globex", days=1)
    assert client.get(f"/api/cabinet/{short}").status_code == 200
    monkeypatch.setattr("plugin.cabinet.web.utcnow", lambda: NOW + timedelta(days=1, seconds=1))
    _dead(client, short)
    with ctx.db.session() as s:
        assert links.revoke(s, "acme", NOW) == 1
    _dead(client, new)


def test_headers_forbid_caching_framing_and_referrers(ctx: Context, client: Any) -> None:
    token = issue_link(ctx, "acme")
    for path in (f"/cabinet/{token}", f"/api/cabinet/{token}", f"/cabinet/{token}/statement.csv",
                 "/cabinet/" + "y" * 43, "/api/cabinet/nope"):
        resp = client.get(path)
        assert resp.headers["Cache-Control"].startswith("no-store"), path
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
        assert resp.headers["Referrer-Policy"] == "no-referrer", path
    css = client.get("/cabinet/static/cabinet.css")
    try:
        assert css.status_code == 200 and b".task" in css.data
    finally:
        css.close()  # a file response: close it, or the file handle outlives the test


def test_the_cabinet_writes_nothing(ctx: Context, client: Any) -> None:
    token = issue_link(ctx, "acme")
    writes: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(ctx.db.engine, "before_cursor_execute", seen)
    try:
        for path in (f"/cabinet/{token}", f"/cabinet/{token}?lang=uk&page=2&statement_page=2",
                     f"/api/cabinet/{token}", f"/cabinet/{token}/statement.csv"):
            assert client.get(path).status_code == 200, path
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", seen)
    assert writes == []


def test_kpis_equal_the_team_report_for_the_company(ctx: Context, client: Any,
                                                    tmp_path: Path) -> None:
    from plugin.cli import main

    token = issue_link(ctx, "acme")
    period = {"from": "2026-11-01", "to": "2026-11-19"}
    got = client.get(f"/api/cabinet/{token}", query_string=period).get_json()["kpis"]
    env = {"DESKPILOT_CONFIG_DIR": str(ctx.settings.config_dir),
           "DESKPILOT_DATABASE_URL": ctx.settings.database_url,
           "DESKPILOT_VAR_DIR": str(tmp_path / "var")}
    result = CliRunner().invoke(main, ["report", "--company", "acme", "--from", "2026-11-01",
                                       "--to", "2026-11-19", "--format", "json",
                                       "--now", NOW.isoformat()], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert got["period"]["from"] == report["period"]["from"]
    assert got["period"]["to"] == report["period"]["to"]
    want = {k: {f: v[f] for f in ("value", "target", "ok", "n")}
            for k, v in report["kpis"].items()}
    assert got["values"] == want
    # and they are acme's alone: one resolved (late), one first reply 40 working minutes in
    assert (want["on_time"]["value"], want["on_time"]["n"]) == (0.0, 1)
    assert want["first_response_median"]["value"] == 40.0
    bad = client.get(f"/api/cabinet/{token}", query_string={"from": "soon"})
    assert bad.status_code == 422 and bad.get_json()["code"] == "invalid-parameter"
    assert client.get(f"/cabinet/{token}?page=0").status_code == 422


def test_statement_pages_carry_the_ledgers_running_balance(ctx: Context, client: Any) -> None:
    with ctx.db.session() as s:
        for i in range(40):
            ledger.adjust(s, "acme", 1 if i % 3 else -1, f"goodwill {i}", "admin",
                          NOW - timedelta(days=1, minutes=40 - i), key=f"adj-{i}")
    token = issue_link(ctx, "acme")
    entries: list[dict[str, Any]] = []
    page = 1
    while True:
        got = client.get(f"/api/cabinet/{token}?statement_page={page}").get_json()["statement"]
        assert len(got["entries"]) <= got["page_size"]
        entries += got["entries"]
        if not got["more"]:
            break
        page += 1
    assert page == 2  # 48 entries, 25 a page
    with ctx.db.session() as s:
        full = ledger.statement(s, "acme")
    want = [(r.id, r.balance, r.reserved) for r in reversed(full.rows)]
    assert [(e["id"], e["balance"], e["reserved"]) for e in entries] == want
    body = client.get(f"/cabinet/{token}/statement.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(r["balance"]) for r in rows] == [r.balance for r in full.rows]


def test_cabinet_commands(ctx: Context, tmp_path: Path) -> None:
    from plugin.cli import main

    env = {"DESKPILOT_CONFIG_DIR": str(ctx.settings.config_dir),
           "DESKPILOT_DATABASE_URL": ctx.settings.database_url,
           "DESKPILOT_VAR_DIR": str(tmp_path / "var"),
           "DESKPILOT_PUBLIC_URL": "https://desk.example"}
    run = CliRunner()
    first = run.invoke(main, ["cabinet", "link", "acme", "--expires", "30"], env=env)
    assert first.exit_code == 0, first.output
    url = first.stdout.strip()
    assert url.startswith("https://desk.example/cabinet/") and len(url.rsplit("/", 1)[1]) == 43
    again = run.invoke(main, ["cabinet", "link", "acme"], env=env)
    assert again.exit_code == 2 and "cabinet rotate acme" in again.output
    rotated = run.invoke(main, ["cabinet", "rotate", "acme"], env=env)
    assert rotated.exit_code == 0 and "1 earlier link(s) revoked" in rotated.output
    new = rotated.stdout.strip().rsplit("/", 1)[1]
    with ctx.db.session() as s:
        assert links.resolve(s, url.rsplit("/", 1)[1], NOW) is None
        assert links.resolve(s, new, NOW) == "acme"
    listed = run.invoke(main, ["cabinet", "list", "acme"], env=env)
    assert listed.output.count("revoked") == 1 and listed.output.count("live") == 1
    assert new not in listed.output
    for args, message in ((["link", "nobody"], "error: unknown company 'nobody'"),
                          (["rotate", "acme", "--expires", "0"],
                           "error: Invalid value for '--expires': 0 is not in the range "
                           "1<=x<=3650")):
        bad = run.invoke(main, ["cabinet", *args], env=env)
        assert bad.exit_code == 2 and bad.stderr.startswith(message), bad.output
        assert len(bad.stderr.splitlines()) == 1 and bad.stdout == "", bad.output
    revoked = run.invoke(main, ["cabinet", "revoke", "acme"], env=env)
    assert revoked.exit_code == 0 and "1 link(s) of acme revoked" in revoked.output


def test_openapi_documents_the_cabinet(client: Any) -> None:
    doc = client.get("/api/openapi.json").get_json()
    for path in ("/api/cabinet", "/api/cabinet/{token}", "/api/cabinet/{token}/statement.csv"):
        assert path in doc["paths"]
    op = doc["paths"]["/api/cabinet"]["get"]
    assert op["security"] == [{"cabinet_link": []}]
    assert "404" in op["responses"] and "Cabinet" in doc["components"]["schemas"]


def test_only_the_hash_is_stored(ctx: Context) -> None:
    from sqlalchemy import select

    from plugin.cabinet.models import CabinetLink

    token = issue_link(ctx, "acme")
    with ctx.db.session() as s:
        stored = s.execute(select(CabinetLink.token_hash)).scalars().all()
    assert stored == [links.token_hash(token)] and token not in stored


def test_adjust_money_shapes(ctx: Context) -> None:
    # a purchase of a second currency appears in the lots with its own price
    with ctx.db.session() as s:
        ledger.purchase(s, "globex", 10, Decimal("12.50"), "EUR", NOW - timedelta(hours=1))
    token = issue_link(ctx, "globex")
    data = create_app(context=ctx).test_client().get(f"/api/cabinet/{token}").get_json()
    assert {(lot["price_per_task"], lot["currency"]) for lot in data["credits"]["lots"]} == {
        ("350.00", "UAH"), ("12.50", "EUR")}



def test_the_statement_csv_neutralises_every_text_cell(ctx: Context, client: Any) -> None:
    # issue 16's CSV rule, one writer for every export: a ticket id or a reason a spreadsheet
    # would run as a formula gets a leading quote; numbers stay numbers
    token = issue_link(ctx, "acme")
    with ctx.db.session() as s:
        ledger.reserve(s, "acme", 'h:=HYPERLINK("http://evil.example")', 0, 1, NOW)
        ledger.adjust(s, "acme", -1, "=cmd|' /C calc'!A0", "admin", NOW, key="formula")
    body = client.get(f"/cabinet/{token}/statement.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))[1:]
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@"))], rows
    assert "'=HYPERLINK(\"http://evil.example\")" in cells, rows
    assert "'=cmd|' /C calc'!A0" in cells, rows
    assert "-1" in cells  # a negative number stays a number


def test_page_dates_name_their_zone_and_the_csv_keeps_offsets(ctx: Context, client: Any) -> None:
    import re

    # acme works in New York (EST in November), globex in the team's Kyiv (EET)
    token = issue_link(ctx, "acme")
    acme = client.get(f"/cabinet/{token}").get_data(as_text=True)
    assert '<dd class="resolve-due">2026-11-19 12:30 EST' in acme  # T-3
    assert '<dd class="resolve-due">2026-11-16 17:00 EST' in acme  # T-1
    assert re.search(r'class="expires"[^>]*>2026-11-26 10:00 EST<', acme)
    # a window "2026-11-20 01:00–07:00 EST" names its zone once, at its end
    shown = re.findall(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b(?! [A-Z]{3}|–\d\d:\d\d [A-Z]{3})",
                       acme)
    assert shown == [], f"instants without a zone: {shown}"
    globex = client.get(f"/cabinet/{issue_link(ctx, 'globex')}").get_data(as_text=True)
    assert re.search(r'class="resolve-due">2026-11-\d\d \d\d:\d\d EET\b', globex)
    assert "EST" not in globex
    body = client.get(f"/cabinet/{token}/statement.csv").get_data(as_text=True)
    first = body.splitlines()[1].split(",")[0]
    assert re.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?-0[45]:00", first), first
