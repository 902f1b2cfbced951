"""The cabinet on SQLite and PostgreSQL, as a client reads its tickets and money: the host's
own reference and a link the client can open (not the agent view the team's dashboard
links to), every open task reachable through pages, and each statement entry's amount equal
to the CLI statement's, in the page, the JSON and the CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from plugin import ledger
from plugin.app import create_app
from plugin.context import Context, set_context
from plugin.reports.service import ticket_url
from plugin.storage.models import Ticket
from tests.cabinet_support import NOW, helpdesk_ticket, issue_link, lifecycle, make_ctx

#: the django-helpdesk's public view of ticket 4 for its submitter (helpdesk ``Ticket.ticket_url``
#: without the secret key, which webhooks do not carry)
PUBLIC_VIEW = ("https://helpdesk.example/helpdesk/view/?ticket=support-4"
               "&email=olena%2Bit@acme.example")


@pytest.fixture
def ctx(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    c = make_ctx(db_url, tmp_path)
    lifecycle(c)
    # filed on the django-helpdesk at 09:00 New York, answered (accepted) at 09:20
    helpdesk_ticket(c, 4, "olena+it@acme.example", datetime(2026, 11, 19, 14, tzinfo=UTC),
                    answered_at=datetime(2026, 11, 19, 14, 20, tzinfo=UTC))
    monkeypatch.setattr("plugin.cabinet.web.utcnow", lambda: NOW)
    yield c
    set_context(None)
    c.close()


@pytest.fixture
def client(ctx: Context) -> Any:
    return create_app(context=ctx).test_client()


def _csv(client: Any, token: str) -> list[dict[str, str]]:
    body = client.get(f"/cabinet/{token}/statement.csv").get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(body)))


def test_tasks_show_the_hosts_reference_and_a_link_the_client_can_open(ctx: Context,
                                                                        client: Any) -> None:
    token = issue_link(ctx, "acme")
    data = client.get(f"/api/cabinet/{token}").get_json()
    tasks = {t["ticket"]: t for t in (*data["tasks"]["open"], *data["tasks"]["finished"])}
    # django-helpdesk: its queue slug and id, and its public view for the submitter
    assert (tasks["4"]["reference"], tasks["4"]["url"]) == ("support-4", PUBLIC_VIEW)
    # the generic host names no reference of its own: #<id>, and the configured client page
    assert (tasks["T-3"]["reference"], tasks["T-3"]["url"]) == (
        "#T-3", "https://portal.example/r/T-3")
    # the team's views keep the agent links
    assert ticket_url(ctx.settings, "helpdesk", "4") == "https://helpdesk.example/helpdesk/tickets/4/"
    assert ticket_url(ctx.settings, "generic", "T-3") == "https://host.example/t/T-3"
    page = client.get(f"/cabinet/{token}").get_data(as_text=True)
    assert (f'<a class="ref" href="{html.escape(PUBLIC_VIEW)}" rel="noopener noreferrer" '
            'target="_blank">support-4</a>') in page
    assert ">#T-3</a>" in page and "/tickets/4/" not in page and "host.example" not in page
    # the statement names the ticket the same way: page, JSON and CSV
    entry = next(e for e in data["statement"]["entries"] if e["ticket"] == "4")
    assert (entry["kind"], entry["reference"], entry["reserved_change"]) == (
        "reserve", "support-4", 2)
    assert re.search(r'<td class="ref">support-4</td>', page)
    rows = _csv(client, token)
    assert [(r["ticket"], r["reference"]) for r in rows if r["ticket"]] == [
        ("T-1", "#T-1"), ("T-1", "#T-1"), ("T-2", "#T-2"), ("T-3", "#T-3"), ("4", "support-4")]


def test_a_reference_is_never_read_from_another_companys_ticket(ctx: Context,
                                                               client: Any) -> None:
    # globex's ledger names a key that is acme's ticket: the reference is not looked up there
    with ctx.db.session() as s:
        ledger.reserve(s, "globex", "helpdesk:4", 1, 1, NOW)  # (cycle 0 is acme's)
    data = client.get(f"/api/cabinet/{issue_link(ctx, 'globex')}").get_json()
    entry = next(e for e in data["statement"]["entries"] if e["ticket"] == "4")
    assert entry["reference"] == "#4"


def _open_tickets(ctx: Context, n: int) -> None:
    """``n`` more open tasks of acme, due an hour apart from Friday on."""
    with ctx.db.session() as s:
        for i in range(n):
            s.add(Ticket(connection="generic", host_ticket_id=f"B-{i:02d}", company_id="acme",
                         task_type="simple", units=1, status="accepted",
                         subject=f"Batch task {i}", calendar="acme_hours",
                         filed_at=NOW - timedelta(hours=1),
                         resolve_due=datetime(2026, 11, 20, 14, tzinfo=UTC)
                         + timedelta(hours=i), facts={}))


def test_every_open_task_is_reachable_through_pages(ctx: Context, client: Any) -> None:
    _open_tickets(ctx, 45)  # with T-2, T-3 and support-4: 48 open
    token = issue_link(ctx, "acme")
    seen: list[str] = []
    due: list[datetime] = []
    for n in (1, 2, 3):
        tasks = client.get(f"/api/cabinet/{token}?open_page={n}").get_json()["tasks"]
        assert tasks["open_total"] == 48
        pager = tasks["open_pager"]
        assert (pager["first"], pager["last"], pager["more"]) == (
            (n - 1) * 20 + 1, min(n * 20, 48), n < 3)
        seen += [t["ticket"] for t in tasks["open"]]
        due += [datetime.fromisoformat(t["resolve_due"]) for t in tasks["open"]]
    assert len(seen) == len(set(seen)) == 48
    # soonest deadline first across pages: T-3 (Thursday 12:30), T-2 (16:00), then Friday's
    assert seen[:2] == ["T-3", "T-2"] and due == sorted(due) and "4" in seen
    second = client.get(f"/cabinet/{token}?open_page=2&lang=en").get_data(as_text=True)
    pager = re.search(r'<p class="pager" id="open_page-pager">(.*?)</p>', second, re.S)
    assert pager is not None
    assert "showing 21–40 of 48" in pager.group(1)
    links = dict(re.findall(r'<a rel="(prev|next)" href="([^"]+)"', pager.group(1)))
    assert "open_page=1" in html.unescape(links["prev"])
    assert "open_page=3" in html.unescape(links["next"])
    assert "lang=en" in html.unescape(links["next"])  # the other parameters stay
    uk = client.get(f"/cabinet/{token}?open_page=3&lang=uk").get_data(as_text=True)
    assert "показано 41–48 з 48" in uk and 'rel="next"' not in uk.split('id="open")')[-1]
    past = client.get(f"/cabinet/{token}?open_page=9&lang=en").get_data(as_text=True)
    assert "nothing on this page; 48 in all" in past
    # a client with few tasks sees no pager at all
    page = client.get(f"/cabinet/{issue_link(ctx, 'globex')}").get_data(as_text=True)
    assert "pager" not in page.split('id="open"')[1].split("</section>")[0]


def test_each_entry_shows_the_amount_the_cli_statement_shows(ctx: Context,
                                                            client: Any) -> None:
    with ctx.db.session() as s:
        ledger.purchase(s, "acme", 10, Decimal("12.50"), "EUR", NOW - timedelta(hours=2))
        ledger.adjust(s, "acme", 2, "goodwill", "admin", NOW - timedelta(hours=1), key="g")
        # 9 + 10 UAH then EUR: an adjustment across currencies gives one figure each
        ledger.adjust(s, "acme", -21, "=cmd|' /C calc'!A0", "admin", NOW, key="big")
        full = ledger.statement(s, "acme")
    token = issue_link(ctx, "acme")
    data = client.get(f"/api/cabinet/{token}").get_json()
    want = {r.id: (None if r.amount is None else str(r.amount), r.currency) for r in full.rows}
    got = {e["id"]: (e["amount"], e["currency"]) for e in data["statement"]["entries"]}
    assert got == {i: want[i] for i in got} and len(got) == 12
    by_kind = {e["kind"]: e for e in data["statement"]["entries"]}
    assert (by_kind["debit"]["amount"], by_kind["debit"]["currency"]) == ("-350.00", "UAH")
    assert (by_kind["burn"]["amount"], by_kind["burn"]["currency"]) == ("-3500.00", "UAH")
    assert (by_kind["reserve"]["amount"], by_kind["reserve"]["amounts"]) == (None, {})
    mixed = next(e for e in data["statement"]["entries"] if e["units"] == -21)
    assert (mixed["amount"], mixed["currency"]) == (None, "mixed")
    assert mixed["amounts"] == {"UAH": "-6650.00", "EUR": "-25.00"}
    page = client.get(f"/cabinet/{token}").get_data(as_text=True)
    amounts = re.findall(r'<td class="n amount">([^<]*)</td>', page)
    # newest first: the adjustment, support-4's reservation (no money), the goodwill credits
    # (a free lot: nothing paid), T-3's reservation, the EUR package
    assert amounts[:5] == ["-6650.00 UAH, -25.00 EUR", "", "+0.00 UAH", "", "+125.00 EUR"]
    assert "-350.00 UAH" in amounts and "+3500.00 UAH" in amounts and "" in amounts
    # the CSV: the CLI statement's amounts, oldest first, plain numbers a spreadsheet adds up
    rows = _csv(client, token)
    assert [(r["amount"], r["currency"]) for r in rows] == [
        ("" if r.amount is None else str(r.amount), r.currency or "") for r in full.rows]
    assert ("-350.00", "UAH") in [(r["amount"], r["currency"]) for r in rows]
    assert rows[-1]["note"] == "'=cmd|' /C calc'!A0 [-6650.00 UAH, -25.00 EUR]"
