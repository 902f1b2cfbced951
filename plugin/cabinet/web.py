"""``/cabinet/<token>`` (the page), its statement CSV, and ``/api/cabinet`` (the same data as
JSON, the link's token as ``Authorization: Bearer <token>`` or in the path).

Any token that does not open a cabinet (unknown, malformed, revoked, expired) gets the same
404 as any other, so a guess learns nothing about which companies exist. Every response is
``no-store``, refuses framing, and sends no referrer (the token is in the address).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from plugin.auth import error_response
from plugin.cabinet import links
from plugin.cabinet.host_links import entry_reference, references
from plugin.cabinet.lang import LANGUAGES, texts
from plugin.cabinet.view import BadRequest, build, company_zone
from plugin.csv_cells import SafeWriter
from plugin.ledger.models import CreditAllocation as A
from plugin.ledger.models import CreditEntry as E
from plugin.ledger.worth import load_prices, priced, with_parts
from plugin.storage.db import utcnow
from rules.templates import fill

ROOT = Path(__file__).resolve().parent.parent
bp = Blueprint("cabinet", __name__, template_folder=str(ROOT / "templates"),
               static_folder=str(ROOT / "static"), static_url_path="/cabinet/static")

HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
NOT_FOUND_HTML = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>Not found</title></head><body><h1>Not found</h1>"
                  "<p>This link does not open anything.</p></body></html>")
CSV_COLUMNS = ("posted_at", "kind", "ticket", "reference", "task_type", "units",
               "reserved_change", "balance", "reserved", "amount", "currency", "note")


@bp.after_request
def _headers(resp: Response) -> Response:
    for key, value in HEADERS.items():
        resp.headers[key] = value
    return resp


def _company(token: str) -> str | None:
    ctx = current_app.extensions["deskpilot"]
    with ctx.db.session() as session:
        return links.resolve(session, token, utcnow())


def _data(company_id: str) -> dict[str, Any]:
    ctx = current_app.extensions["deskpilot"]
    with ctx.db.session() as session:
        return build(session, ctx.settings, company_id, utcnow(), request.args)


def _html_404() -> Response:
    return Response(NOT_FOUND_HTML, 404, mimetype="text/html")


def _json_404() -> Response:
    return error_response(404, "not-found", "no cabinet here")


@bp.get("/cabinet/<token>")
def page(token: str) -> Any:
    """The company's cabinet page."""
    company_id = _company(token)
    if company_id is None:
        return _html_404()
    try:
        data = _data(company_id)
    except BadRequest as exc:
        asked = request.args.get("lang") or ""
        lang = asked if asked in LANGUAGES else "uk"
        return render_template("cabinet.html", c=None, t=texts(lang), error=str(exc),
                               lang=lang, token=token), 422

    def switch(**change: Any) -> str:
        args: dict[str, Any] = {**request.args.to_dict(),
                                **{k: str(v) for k, v in change.items()}}
        return url_for("cabinet.page", token=token, **args)

    return render_template("cabinet.html", c=data, t=texts(data["language"]), error=None,
                           lang=data["language"], token=token, switch=switch,
                           duration=duration, day=day, fill=fill, money=money,
                           at=partial(at, tz=ZoneInfo(data["company"]["timezone"])))


@bp.get("/cabinet/<token>/statement.csv")
def statement_csv(token: str) -> Response:
    """The whole statement, oldest first, with the running balance (the one export that
    reads all of the history)."""
    company_id = _company(token)
    return _html_404() if company_id is None else _csv(company_id)


@bp.get("/api/cabinet")
def api_bearer() -> Response:
    """The cabinet as JSON; the link's token in ``Authorization: Bearer``."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    return _api(token)


@bp.get("/api/cabinet/<token>")
def api_path(token: str) -> Response:
    """The cabinet as JSON; the link's token in the path."""
    return _api(token)


@bp.get("/api/cabinet/<token>/statement.csv")
def api_statement_csv(token: str) -> Response:
    company_id = _company(token)
    return _json_404() if company_id is None else _csv(company_id)


def _api(token: str) -> Response:
    company_id = _company(token)
    if company_id is None:
        return _json_404()
    try:
        from flask import jsonify

        return jsonify(_data(company_id))
    except BadRequest as exc:
        return error_response(422, "invalid-parameter", str(exc))


def _csv(company_id: str) -> Response:
    ctx = current_app.extensions["deskpilot"]
    buf = io.StringIO()
    w = SafeWriter(buf, lineterminator="\n")  # every text cell, not only the reason
    w.writerow(CSV_COLUMNS)
    bal = res = 0
    # built whole in one read (20,000 entries are about 1.5 MB): a streamed body would hold
    # the transaction open for as long as the client takes to read it; entries come with
    # their lot allocations joined (the CLI statement's one-query shape) for the amounts
    with ctx.db.session() as session:
        tz = company_zone(session, ctx.settings, company_id)
        refs = references(session, company_id)
        prices = load_prices(session, company_id)
        q = (select(E.id, E.posted_at, E.kind, E.ticket_key, E.task_type, E.units,
                    E.reserved, E.reason, A.lot_id, A.units)
             .outerjoin(A, A.entry_id == E.id)
             .where(E.company_id == company_id).order_by(E.posted_at, E.id, A.id))
        for entry, moves in _grouped(session.connection().execute(q)):
            bal += entry[5]
            res += entry[6]
            worth = priced(entry[5], moves, prices)
            w.writerow([entry[1].astimezone(tz).isoformat(), entry[2],
                        (entry[3] or "").split(":", 1)[-1],
                        entry_reference(entry[3], refs) or "", entry[4] or "", entry[5],
                        entry[6], bal, res,
                        "" if worth is None or worth.amount is None else worth.amount,
                        "" if worth is None else worth.currency,
                        with_parts(entry[7], worth) or ""])
    name = f"statement-{company_id}.csv".replace('"', "")
    return Response(buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _grouped(rows: Iterable[Any]) -> Iterator[tuple[Any, list[tuple[int | None, int]]]]:
    """Entries with their allocations (lot id, units) from rows ordered by entry."""
    entry: Any = None
    moves: list[tuple[int | None, int]] = []
    for r in rows:
        if entry is not None and r[0] != entry[0]:
            yield entry, moves
            moves = []
        entry = r
        if r[9] is not None:
            moves.append((r[8], r[9]))
    if entry is not None:
        yield entry, moves


# -- template helpers -------------------------------------------------------------------
def money(entry: dict[str, Any]) -> str:
    """An entry's amount as the page shows it, signed like the units: ``+3500.00 UAH``,
    ``-350.00 UAH`` (one figure per currency when several met in one entry)."""
    parts = entry.get("amounts") or {}
    return ", ".join(f"{'' if v.startswith('-') else '+'}{v} {c}" for c, v in parts.items())


def duration(minutes: int | None, t: dict[str, str]) -> str:
    """Working minutes as ``7 h 05 min`` (``год``/``хв`` in Ukrainian)."""
    if minutes is None:
        return ""
    sign = "−" if minutes < 0 else ""
    h, m = divmod(abs(int(minutes)), 60)
    return f"{sign}{h} {t['hours_short']} {m:02d} {t['minutes_short']}" if h else \
        f"{sign}{m} {t['minutes_short']}"


def at(value: str | None, tz: ZoneInfo | None = None) -> str:
    """An ISO instant already in the company's zone as ``YYYY-MM-DD HH:MM EST``: the zone's
    abbreviation at that instant (``EET`` in winter, ``EEST`` in summer), so a date printed
    or pasted away from the page's header still says which clock it is on."""
    if not value:
        return ""
    shown = value[:16].replace("T", " ")
    if tz is None:
        return shown
    return f"{shown} {datetime.fromisoformat(value).astimezone(tz).strftime('%Z')}"


def day(value: str | None) -> str:
    return value[:10] if value else ""


def openapi_paths(spec: Any) -> None:
    from plugin.cabinet.openapi_doc import register

    register(spec)
