"""Issue 17: the service's own rules as a client and a team live them over days.

Every scenario goes through the real path: the receiver (Flask app, signed generic
webhooks) stores the event, the worker's ``process_event`` runs the rules and writes the
ledger and the outbox in one transaction, and time moves with the scheduler's ``tick``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from plugin import ledger
from plugin.app import create_app
from plugin.context import Context, build_context, set_context
from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot
from plugin.outbox.rows import OutboxRow
from plugin.processing.balance import credits_changed
from plugin.processing.process import process_event
from plugin.scheduler import tick
from plugin.settings import load_settings
from plugin.storage.models import Company, Ticket
from tests.jobs_support import ROOT, SECRET
from webhooks.hosts.generic import signed_headers

KYIV = "+02:00"
TOKEN = "admin-token-0123456789"


def _context(db_url: str, redis_url: str, config: Path, var: Path) -> Context:
    import plugin.tables  # noqa: F401 - every table on Base.metadata

    settings = load_settings(env={}, overrides={
        "database_url": db_url, "redis_url": redis_url, "config_dir": str(config),
        "var_dir": str(var), "admin_tokens": [TOKEN], "connections": [
            {"name": "generic", "kind": "generic", "webhook_secrets": [SECRET]}]})
    ctx = build_context(settings)
    ctx.db.create_all()
    set_context(ctx)
    return ctx


class Desk:
    """A client company and its team, driving Deskpilot through its webhook receiver."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.client = create_app(context=ctx).test_client()
        self.n = 0

    def post(self, body: dict[str, Any], now: datetime) -> None:
        """Receive ``body`` (signed) and run the worker on it at ``now``."""
        self.n += 1
        raw = json.dumps(body).encode()
        resp = self.client.post("/webhooks/generic", data=raw, headers={
            "Content-Type": "application/json", **signed_headers(raw, SECRET, f"d-{self.n}")})
        assert resp.status_code == 202, resp.json
        assert process_event(resp.json["event_id"], now) == "processed"

    def file(self, tid: str, at: str, company: str = "acme", **ticket: Any) -> None:
        when = datetime.fromisoformat(at)
        self.post(_event(tid, "ticket.created", at, company=company, actor="client",
                         created=at, **ticket), when)

    def update(self, tid: str, at: str, status: str, old: str, company: str = "acme",
               fields: dict[str, Any] | None = None, changes: dict[str, Any] | None = None,
               created: str | None = None) -> None:
        ch = {"status": [old, status]} if old != status else {}
        ch.update(changes or {})
        self.post(_event(tid, "ticket.updated", at, company=company, status=status,
                         fields=fields, changes=ch, created=created or self.filed(tid)),
                  datetime.fromisoformat(at))

    def filed(self, tid: str) -> str:
        t = self.ticket(tid)
        assert t.filed_at is not None
        return t.filed_at.astimezone(UTC).isoformat()

    def ticket(self, tid: str) -> Ticket:
        with self.ctx.db.session() as s:
            return s.execute(select(Ticket).where(Ticket.host_ticket_id == tid)).scalar_one()

    def state(self, tid: str) -> dict[str, Any]:
        return dict((self.ticket(tid).facts or {}).get("state") or {})

    def commands(self, tid: str) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            rows = s.execute(select(OutboxRow.command).where(OutboxRow.ticket_id == tid)
                             .order_by(OutboxRow.id)).scalars()
            return [dict(c) for c in rows]

    def notes(self, tid: str, visibility: str) -> list[str]:
        return [c["data"]["body"] for c in self.commands(tid)
                if c["type"] == "add_note" and c["data"]["visibility"] == visibility]

    def attention(self) -> str:
        """The dashboard's "needs attention now" section, as the team sees it."""
        self.client.get("/dashboard", query_string={"token": TOKEN})
        html = self.client.get("/dashboard").get_data(as_text=True)
        start = html.index("Needs attention now")
        return html[start:html.index("</section>", start)]

    def entries(self, company: str = "acme") -> list[tuple[str, int, str | None]]:
        with self.ctx.db.session() as s:
            return [(e.kind, e.units, e.flag) for e in s.execute(
                select(CreditEntry).where(CreditEntry.company_id == company)
                .order_by(CreditEntry.id)).scalars()]


def _event(tid: str, event: str, at: str, *, company: str, actor: str = "agent",
           status: str = "new", created: str, fields: dict[str, Any] | None = None,
           changes: dict[str, Any] | None = None, locale: str | None = None,
           subject: str | None = None) -> dict[str, Any]:
    requester: dict[str, Any] = {"id": "u-1", "email": f"u@{company}.example"}
    if locale:
        requester["locale"] = locale
    return {
        "event": event, "occurred_at": at,
        "actor": {"kind": actor, "id": "a-1" if actor == "agent" else "u-1"},
        "ticket": {"id": tid, "created_at": created, "subject": subject or f"Question {tid}",
                   "company": {"id": company, "name": company.upper()},
                   "requester": requester, "status": status, "priority": "normal",
                   "channel": "email", "custom_fields": fields or {}},
        "changes": changes or {},
    }


def _buy(ctx: Context, company: str, tasks: int, at: datetime, key: str,
         expiry_days: int = 90) -> None:
    with ctx.db.session() as s:
        if s.get(Company, company) is None:
            s.add(Company(id=company, name=company.upper()))
            s.flush()
        ledger.purchase(s, company, tasks, Decimal("350"), "UAH", at, key=key,
                        expires_at=at + timedelta(days=expiry_days))


@pytest.fixture
def desk(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[Desk]:
    ctx = _context(db_url, redis_url, ROOT / "config", tmp_path / "var")
    yield Desk(ctx)
    set_context(None)
    ctx.close()


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    return config


# -- 1. the daily cap counts the day the task was posted -----------------------------------
def test_saturday_postings_count_for_saturday_and_monday_keeps_its_slots(desk):
    _buy(desk.ctx, "acme", 20, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    for n, hour in enumerate(("10", "11", "12")):  # Saturday 05.12: three tasks, the cap
        desk.file(f"S-{n}", f"2026-12-05T{hour}:00:00{KYIV}")
        assert desk.ticket(f"S-{n}").deferred_to is None
    desk.file("S-3", f"2026-12-05T13:00:00{KYIV}")  # the 4th of Saturday: over the cap
    monday = datetime(2026, 12, 7, 9, tzinfo=UTC) - timedelta(hours=2)
    assert desk.ticket("S-3").deferred_to == monday
    (note,) = [n for n in desk.notes("S-3", "client") if "ліміт" in n]
    assert "в суботу 05.12" in note and "Сьогодні" not in note, note

    # the scheduler reaches Monday; the company posts one task: it is not deferred
    tick(desk.ctx, datetime(2026, 12, 7, 8, 0, tzinfo=UTC), force=True)
    desk.file("M-1", f"2026-12-07T10:00:00{KYIV}")
    m1 = desk.ticket("M-1")
    assert m1.deferred_to is None
    assert m1.accept_due == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 11:00 Kyiv, same day
    assert not [n for n in desk.notes("M-1", "client") if "ліміт" in n]
    # Monday counts the Saturday task deferred to it, M-1 and M-2: M-3 goes to Tuesday
    desk.file("M-2", f"2026-12-07T11:00:00{KYIV}")
    assert desk.ticket("M-2").deferred_to is None
    desk.file("M-3", f"2026-12-07T12:00:00{KYIV}")
    assert desk.ticket("M-3").deferred_to == datetime(2026, 12, 8, 7, tzinfo=UTC)
    (note,) = [n for n in desk.notes("M-3", "client") if "ліміт" in n]
    assert "в понеділок 07.12" in note, note


# -- 2. "no account" means nothing ever bought, whatever rows exist -------------------------
def test_a_company_that_never_bought_is_processed_and_flagged_not_held(desk):
    desk.file("N-1", f"2026-12-07T10:00:00{KYIV}", company="newco")
    with desk.ctx.db.session() as s:
        assert s.get(Company, "newco") is not None  # the event created the row itself
    desk.update("N-1", f"2026-12-07T10:20:00{KYIV}", "accepted", "new", company="newco")
    t, st = desk.ticket("N-1"), desk.state("N-1")
    assert t.status == "accepted" and not st.get("held")
    assert not [c for c in desk.commands("N-1") if c["type"] == "set_status"
                and c["data"]["status"] == "on_hold"]
    assert any("невідома" in n for n in desk.notes("N-1", "internal"))  # flagged inside
    client = desk.notes("N-1", "client")
    assert not [n for n in client if "призупинено" in n or "недостатньо" in n], client
    assert any("прийнято" in n for n in client)  # the client is told the deadline
    desk.update("N-1", f"2026-12-07T15:00:00{KYIV}", "resolved", "accepted", company="newco")
    assert desk.entries("newco") == []  # nothing to debit: no account


# -- 3 + 4. credits short at filing; a held task resolved anyway ----------------------------
def test_short_credits_told_at_filing_and_a_held_task_resolved_is_debited_in_overdraft(desk):
    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    with desk.ctx.db.session() as s:  # nine of ten used already: one left
        ledger.adjust(s, "acme", -9, "used before", "admin", datetime(2026, 12, 2, tzinfo=UTC),
                      key="used")
    desk.file("H-1", f"2026-12-07T10:00:00{KYIV}")
    desk.update("H-1", f"2026-12-07T10:10:00{KYIV}", "accepted", "new")  # takes the last one
    desk.file("H-2", f"2026-12-07T10:30:00{KYIV}")
    # at filing, before anyone answered: the team and the client know it will be held
    team = [n for n in desk.notes("H-2", "internal") if "Кредитів не вистачає" in n]
    assert len(team) == 1 and "потрібно 1, доступно 0" in team[0], team
    client = [n for n in desk.notes("H-2", "client") if "недостатньо" in n]
    assert len(client) == 1, desk.notes("H-2", "client")
    board = desk.attention()  # and the dashboard has a line for it
    assert "H-2" in board and "will be held at acceptance" in board, board
    # acceptance puts it on hold; the client is not told a second time
    desk.update("H-2", f"2026-12-07T10:40:00{KYIV}", "accepted", "new")
    assert desk.state("H-2")["held"] is True and desk.ticket("H-2").status == "on_hold"
    assert len([n for n in desk.notes("H-2", "client") if "призупинено" in n
                or "недостатньо" in n]) == 1
    before = len(desk.notes("H-2", "client"))
    # the agent resolves it anyway: debited into flagged overdraft, once, hold flag cleared
    desk.update("H-2", f"2026-12-07T12:00:00{KYIV}", "resolved", "on_hold")
    st = desk.state("H-2")
    assert st["held"] is False and st["debited_units"] == 1
    assert desk.ticket("H-2").status == "resolved"
    assert [e for e in desk.entries() if e[0] == "debit"] == [("debit", -1, None)]
    said = desk.notes("H-2", "client")[before:]
    assert len(said) == 1 and "виконано" in said[0], said  # "done", never also "on hold"
    assert any("овердрафт" in n for n in desk.notes("H-2", "internal"))
    # a redelivery of the same resolution does not debit again
    desk.update("H-2", f"2026-12-07T12:00:00{KYIV}", "resolved", "on_hold")
    assert len([e for e in desk.entries() if e[0] == "debit"]) == 1
    # H-1 (reserved the last credit) resolves too: what no package covers is flagged debt
    desk.update("H-1", f"2026-12-07T13:00:00{KYIV}", "resolved", "accepted")
    assert [e for e in desk.entries() if e[0] == "debit"] == [("debit", -1, None),
                                                              ("debit", -1, "overdraft")]
    with desk.ctx.db.session() as s:
        assert ledger.balance(s, "acme", at=datetime(2026, 12, 7, 12, tzinfo=UTC)).balance == -1
    # the next package settles the debt
    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 8, tzinfo=UTC), "p-2")
    with desk.ctx.db.session() as s:
        assert ledger.balance(s, "acme", at=datetime(2026, 12, 8, 1, tzinfo=UTC)).balance == 9


def test_pending_policy_keeps_the_debit_until_credits_arrive_soonest_expiring_first(
        db_url, redis_url, tmp_path):
    config = _config(tmp_path)
    plans = config / "plans.yaml"
    plans.write_text(plans.read_text().replace("held_resolved: overdraft",
                                               "held_resolved: pending", 1))
    ctx = _context(db_url, redis_url, config, tmp_path / "var")
    try:
        desk = Desk(ctx)
        _buy(ctx, "acme", 10, datetime(2026, 11, 1, tzinfo=UTC), "p-0")
        with ctx.db.session() as s:  # an account with nothing left
            ledger.adjust(s, "acme", -10, "used up", "admin", datetime(2026, 11, 2, tzinfo=UTC),
                          key="used")
        desk.file("P-1", f"2026-12-07T10:00:00{KYIV}")
        desk.update("P-1", f"2026-12-07T10:10:00{KYIV}", "accepted", "new")
        assert desk.state("P-1")["held"] is True
        desk.update("P-1", f"2026-12-07T12:00:00{KYIV}", "resolved", "on_hold")
        st = desk.state("P-1")
        assert st["held"] is False and st["debit_pending"] == 1
        assert [e[0] for e in desk.entries()] == ["purchase", "adjust"]  # nothing taken
        assert any("відкладено" in n for n in desk.notes("P-1", "internal"))
        # two packages arrive: the later-bought one expires sooner (30-day lot)
        _buy(ctx, "acme", 10, datetime(2026, 12, 8, tzinfo=UTC), "p-long")
        _buy(ctx, "acme", 10, datetime(2026, 12, 8, 1, tzinfo=UTC), "p-short", expiry_days=30)
        credits_changed("acme", datetime(2026, 12, 8, 2, tzinfo=UTC))
        st = desk.state("P-1")
        assert st["debit_pending"] == 0 and st["debited_units"] == 1
        with ctx.db.session() as s:
            short = s.execute(select(CreditLot.id).where(
                CreditLot.purchased_at == datetime(2026, 12, 8, 1, tzinfo=UTC))).scalar_one()
            debit = s.execute(select(CreditEntry).where(CreditEntry.kind == "debit")
                              ).scalar_one()  # the adjustment's lot is empty, not expired
            lots = s.execute(select(CreditAllocation.lot_id)
                             .where(CreditAllocation.entry_id == debit.id)).scalars().all()
        assert debit.units == -1 and lots == [short]
        credits_changed("acme", datetime(2026, 12, 8, 3, tzinfo=UTC))  # once only
        assert len([e for e in desk.entries() if e[0] == "debit"]) == 1
    finally:
        set_context(None)
        ctx.close()


# -- 5. a field set for the first time: [null, value] ---------------------------------------
def test_a_null_old_value_in_changes_is_an_acceptance_not_a_422(desk):
    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    desk.file("C-1", f"2026-12-07T10:00:00{KYIV}")
    desk.update("C-1", f"2026-12-07T10:15:00{KYIV}", "new", "new",
                fields={"task_type": "composite", "units": 3},
                changes={"task_type": [None, "composite"], "units": [None, 3]})
    t = desk.ticket("C-1")
    assert (t.task_type, t.units) == ("composite", 3) and t.accepted_at is not None
    assert ("reserve", 0, None) in desk.entries()
    with desk.ctx.db.session() as s:
        assert ledger.balance(s, "acme", at=datetime(2026, 12, 7, 9, tzinfo=UTC)).reserved == 3
    assert any("Термін виконання" in n for n in desk.notes("C-1", "client"))


# -- 6. breach warnings with no recipient: an internal note, once ---------------------------
def test_breach_warning_without_a_recipient_is_an_internal_note_once(desk):
    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    desk.file("B-1", f"2026-12-07T10:00:00{KYIV}")
    desk.update("B-1", f"2026-12-07T10:10:00{KYIV}", "accepted", "new")
    due = desk.ticket("B-1").resolve_due
    assert due == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 18:00 Kyiv
    for minutes in (25, 20, 5):  # the scheduler ticks on through the last half hour
        tick(desk.ctx, due - timedelta(minutes=minutes), force=True)
    warnings = [n for n in desk.notes("B-1", "internal") if "B-1" in n and "resolve" in n]
    assert len(warnings) == 1, desk.notes("B-1", "internal")
    board = desk.attention()  # the dashboard lists the late task once
    assert board.count("<td>B-1 ") == 1 and "deadline near or passed (resolve)" in board, board
    assert not [c for c in desk.commands("B-1") if c["type"] == "add_note"
                and c["data"]["visibility"] == "client" and "resolve" in c["data"]["body"]]


# -- 7. the client's language ---------------------------------------------------------------
def test_client_notes_in_the_company_language_internal_in_the_team_language(
        db_url, redis_url, tmp_path):
    config = _config(tmp_path)
    (config / "companies.yaml").write_text("companies:\n  acme: {language: en}\n")
    ctx = _context(db_url, redis_url, config, tmp_path / "var")
    try:
        desk = Desk(ctx)
        desk.file("L-1", f"2026-12-07T10:00:00{KYIV}")  # no account: internal note too
        (reply,) = desk.notes("L-1", "client")
        assert reply.startswith("We have received your request #L-1"), reply  # host reference
        assert any("невідома" in n for n in desk.notes("L-1", "internal"))  # team: uk
        # another company, no configured language: the requester's locale decides
        desk.post(_event("L-2", "ticket.created", f"2026-12-07T10:05:00{KYIV}",
                         company="globex", actor="client", created=f"2026-12-07T10:05:00{KYIV}",
                         locale="en-GB"), datetime(2026, 12, 7, 8, 5, tzinfo=UTC))
        assert desk.notes("L-2", "client")[0].startswith("We have received")
        # a later delivery that names no locale (an older template, a poll) keeps the one
        # last known for the same requester: the client is not switched to the default
        desk.post(_event("L-2", "ticket.updated", f"2026-12-07T11:00:00{KYIV}",
                         company="globex", status="resolved", changes={"status": ["new",
                         "resolved"]}, created=f"2026-12-07T10:05:00{KYIV}"),
                  datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
        assert desk.notes("L-2", "client")[1:] == [
            "Task #L-2 is resolved. Please rate our work from 1 to 5; it helps us improve."]
        desk.post(_event("L-3", "ticket.created", f"2026-12-07T10:06:00{KYIV}",
                         company="initech", actor="client",
                         created=f"2026-12-07T10:06:00{KYIV}"),
                  datetime(2026, 12, 7, 8, 6, tzinfo=UTC))
        assert desk.notes("L-3", "client")[0].startswith("Ми отримали")  # the default: uk
    finally:
        set_context(None)
        ctx.close()


# -- 8. holidays: 2027 is covered ----------------------------------------------------------
def test_new_years_day_2027_is_not_a_working_day(desk):
    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    desk.file("Y-1", f"2026-12-31T17:30:00{KYIV}")  # Thursday evening; Friday 01.01 closed
    t = desk.ticket("Y-1")
    assert t.accept_due == datetime(2027, 1, 4, 7, 30, tzinfo=UTC)  # Monday 09:30 Kyiv


# -- 9. statements in money -----------------------------------------------------------------
def test_statement_shows_money_beside_units(desk):
    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    desk.file("M-1", f"2026-12-07T10:00:00{KYIV}")
    desk.update("M-1", f"2026-12-07T10:10:00{KYIV}", "accepted", "new")
    desk.update("M-1", f"2026-12-07T12:00:00{KYIV}", "resolved", "accepted")
    with desk.ctx.db.session() as s:
        st = ledger.statement(s, "acme").to_json()
    by_kind = {e["kind"]: e for e in st["entries"]}
    assert (by_kind["purchase"]["amount"], by_kind["purchase"]["currency"]) == ("3500.00", "UAH")
    assert (by_kind["debit"]["amount"], by_kind["debit"]["currency"]) == ("-350.00", "UAH")
    assert by_kind["reserve"]["amount"] is None
    assert st["totals_money"]["debit"] == {"UAH": "-350.00"}
    assert "units per entry kind" in st["totals_label"]


# -- 10. a ticket the host deleted, and a new one under its id -----------------------------
def test_a_deleted_ticket_ends_and_a_creation_under_its_id_is_a_new_ticket(desk):
    from plugin.cabinet.tasks import open_page
    from plugin.processing.models import TicketTimer, TimerState
    from plugin.reports.attention import attention_list

    _buy(desk.ctx, "acme", 10, datetime(2026, 12, 1, tzinfo=UTC), "p-1")
    desk.file("K-1", f"2026-12-07T10:00:00{KYIV}")  # the company's other ticket
    desk.file("D-1", f"2026-12-07T10:05:00{KYIV}")
    desk.update("D-1", f"2026-12-07T10:10:00{KYIV}", "accepted", "new")
    assert desk.state("D-1")["reserved_units"] == 1
    written = len(desk.commands("D-1"))
    desk.post(_event("D-1", "ticket.deleted", f"2026-12-07T11:00:00{KYIV}", company="acme",
                     status="accepted", created=desk.filed("D-1")),
              datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
    t = desk.ticket("D-1")
    assert t.status == "deleted"
    assert [e[0] for e in desk.entries()] == ["purchase", "reserve", "release"]
    # nothing is written to a ticket that no longer exists (it would come back 404) ...
    assert len(desk.commands("D-1")) == written
    # ... the company's new balance goes to its other ticket
    (bal,) = [c for c in desk.commands("K-1") if c["type"] == "set_balance"]
    assert (bal["data"]["balance"], bal["data"]["reserved"]) == (10, 0), bal
    with desk.ctx.db.session() as s:
        timers = s.execute(select(TicketTimer).where(TicketTimer.ticket_pk == t.id)).scalars()
        assert all(r.state != TimerState.ARMED for r in timers)
        assert "D-1" not in [r["ticket_id"] for r in attention_list(
            s, datetime(2026, 12, 7, 9, 30, tzinfo=UTC))]
        rows, total = open_page(s, "acme")
        assert [r.host_ticket_id for r in rows] == ["K-1"] and total == 1
    # a redelivered deletion releases nothing twice
    desk.post(_event("D-1", "ticket.deleted", f"2026-12-07T11:00:00{KYIV}", company="acme",
                     status="accepted", created=desk.filed("D-1")),
              datetime(2026, 12, 7, 9, 1, tzinfo=UTC))
    assert [e[0] for e in desk.entries()] == ["purchase", "reserve", "release"]

    # the host reuses the id (Redmine on SQLite): a new ticket, filed, answered, reserved anew
    desk.file("D-1", f"2026-12-07T12:00:00{KYIV}", subject="A different question")
    t = desk.ticket("D-1")
    assert t.status == "new" and t.accepted_at is None
    assert t.filed_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert t.accept_due == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert desk.notes("D-1", "client")[-1].startswith("Ми отримали ваше звернення #D-1")
    desk.update("D-1", f"2026-12-07T12:10:00{KYIV}", "accepted", "new",
                created=f"2026-12-07T12:00:00{KYIV}")
    st = desk.state("D-1")
    assert st["reserved_units"] == 1 and st["cycle"] == 1
    assert [e[0] for e in desk.entries()] == ["purchase", "reserve", "release", "reserve"]
    with desk.ctx.db.session() as s:
        assert ledger.balance(s, "acme", at=datetime(2026, 12, 7, 11, tzinfo=UTC)).reserved == 1
