"""``rules replay`` on SQLite: every host kind re-parsed, dry run writes nothing, --apply
re-types through ledger reversals (entries are only ever appended), pushes the company's new
balance, re-arms the ticket's timers, and is idempotent (its balance and timers on
PostgreSQL too)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from plugin import ledger
from plugin.cli import main
from plugin.context import set_context
from plugin.ledger.models import CreditEntry
from plugin.outbox.rows import OutboxRow
from plugin.processing.models import TicketTimer, TimerState
from plugin.processing.process import process_event
from plugin.processing.state import ticket_state
from plugin.rules_replay import parse_since, replay_events
from plugin.rules_replay_apply import apply_changes
from plugin.storage.models import Event, EventState, Ticket
from rules.config.loader import load_rules
from tests.jobs_support import SECRET, FakeClient, buy, connections_context, payload, store
from webhooks.hosts import zammad

ROOT = Path(__file__).resolve().parents[2]
ZAMMAD = ROOT / "tests" / "fixtures" / "zammad"
NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
CONNECTIONS = [
    {"name": "generic", "kind": "generic", "webhook_secrets": [SECRET]},
    {
        "name": "zm",
        "kind": "zammad",
        "plugin_user_id": "7",
        "webhook_secrets": [SECRET],
        "company_from": {"source": "organization", "map": {"ACME Ltd": "acme"}},
        "field_map": {"inbound": {"deskpilot_task_type": "task_type", "deskpilot_units": "units"}},
    },
]


@pytest.fixture
def ctx(sqlite_url):
    c = connections_context(sqlite_url, CONNECTIONS)
    buy(c, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    yield c
    c.close()


def _store_zammad(ctx, name: str, delivery: str) -> int:
    raw = (ZAMMAD / f"{name}.json").read_bytes()
    headers = dict(json.loads((ZAMMAD / "headers.json").read_text()))
    headers["X-Zammad-Delivery"] = delivery
    (ev,) = zammad.parse(raw, headers, ctx.settings.connection("zm"))
    with ctx.db.session() as s:
        row = Event(
            connection="zm", delivery_key=delivery, body_sha256="z" * 64,
            received_at=ev.occurred_at, headers=headers, body=raw, event_type=ev.event,
            ticket_id=ev.ticket.id, occurred_at=ev.occurred_at, state=EventState.QUEUED,
            attempts=0,
        )  # fmt: skip
        s.add(row)
    return row.id


def _history(ctx) -> None:
    """T-1 (generic): filed, accepted, resolved; zammad 81: filed composite x2."""
    fields = {"units": None}
    ids = [
        store(ctx, payload("T-1", "ticket.created", "2026-11-23T10:00:00+02:00",
                           actor="client", fields=fields), "g1"),
        store(ctx, payload("T-1", "ticket.updated", "2026-11-23T10:20:00+02:00",
                           status="accepted", changes={"status": ["new", "accepted"]}), "g2"),
        store(ctx, payload("T-1", "ticket.updated", "2026-11-23T11:30:00+02:00",
                           status="resolved", changes={"status": ["accepted", "resolved"]}),
              "g3"),
        _store_zammad(ctx, "ticket_created", "z1"),
    ]  # fmt: skip
    for i in ids:
        assert process_event(i, NOW) == EventState.PROCESSED


def _entries(ctx) -> list[tuple]:
    with ctx.db.session() as s:
        return [
            (e.id, e.kind, e.units, e.key)
            for e in s.execute(select(CreditEntry).order_by(CreditEntry.id)).scalars()
        ]


def _tickets(ctx) -> dict[str, tuple]:
    with ctx.db.session() as s:
        return {
            t.host_ticket_id: (t.task_type, t.units, t.resolve_due, t.rules_version)
            for t in s.execute(select(Ticket)).scalars()
        }


def _composite_config(tmp_path: Path, ticket: str = "T-1") -> Path:
    """The shipped config plus a first rule: questions about ``ticket`` are composite x 3."""
    return _config(tmp_path, {ticket: ("composite", 3)})


def _config(tmp_path: Path, types: dict[str, tuple[str, int]],
            simple_resolve_hours: int = 8) -> Path:
    """The shipped config with first rules typing the questions about each ticket of
    ``types`` (ticket -> (type, units)), and simple tasks resolved in these working hours."""
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("tests"))
    cls = config / "rules" / "10-classify.yaml"
    rules = "".join(
        f"  - name: {re.sub('[^a-z0-9]+', '-', ticket.lower())}-is-{kind}\n"
        f"    when: {{field: ticket.subject, op: matches, value: '{ticket}$'}}\n"
        f"    type: {kind}\n"
        f"    units: {units}\n"
        for ticket, (kind, units) in types.items()
    )
    cls.write_text(cls.read_text(encoding="utf-8").replace("classify:\n", "classify:\n" + rules, 1))
    pol = config / "rules" / "20-policies.yaml"
    eight = "      resolve: {kind: working_hours, hours: 8}\n"
    text = pol.read_text(encoding="utf-8")
    assert text.count(eight) == 1  # the simple-and-estimate policy's
    pol.write_text(text.replace(
        eight, f"      resolve: {{kind: working_hours, hours: {simple_resolve_hours}}}\n"))
    return config


def test_replay_with_the_same_rules_changes_nothing(ctx) -> None:
    _history(ctx)
    res = replay_events(ctx.db, load_rules(ROOT / "config"), ctx.settings, SINCE)
    assert (res.events, res.tickets, res.skipped) == (4, 2, 0)
    assert res.changes == []  # the replay folds exactly as the workers did, zammad included


def test_dry_run_then_apply_through_ledger_reversals(ctx, tmp_path: Path) -> None:
    _history(ctx)
    rules = load_rules(_composite_config(tmp_path))
    entries, tickets = _entries(ctx), _tickets(ctx)
    assert tickets["T-1"][:2] == ("simple", 1)
    res = replay_events(ctx.db, rules, ctx.settings, SINCE)
    (ch,) = res.changes
    assert (ch.connection, ch.ticket_id) == ("generic", "T-1")
    assert ch.diff["task_type"] == ("simple", "composite") and ch.diff["units"] == (1, 3)
    assert ch.diff["credits"] == (1, 3) and "resolve_due" in ch.diff
    assert "accept_due" not in ch.diff  # one working hour either way
    assert _entries(ctx) == entries and _tickets(ctx) == tickets  # the dry run wrote nothing

    lines = apply_changes(ctx.db, res.changes, NOW, rules=rules, settings=ctx.settings)
    # the balance on the company's latest ticket of each connection (T-1 is generic's)
    assert lines == ["generic/T-1: state, ledger retyped, 2 host command(s) queued, "
                     "balance of acme queued on 2 ticket(s)"]
    after = _entries(ctx)
    assert after[: len(entries)] == entries  # nothing edited: the old entries are untouched
    assert len(after) > len(entries)
    with ctx.db.session() as s:
        assert ledger.balance(s, "acme", NOW).available == 10 - 3
        row = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-1")).scalar_one()
        st = ticket_state(row)
        assert (row.task_type, row.units, row.rules_version) == ("composite", 3, rules.version)
        assert (st.task_type, st.units, st.debited_units, st.debited_type) == (
            "composite", 3, 3, "composite",
        )  # fmt: skip
        assert st.resolve_due == row.resolve_due != tickets["T-1"][2]
        assert st.facts["deadline_key"].startswith(f"{rules.version}|")  # not reused elsewhere
        types = [(r.ticket_id, r.command["type"]) for r in s.execute(select(OutboxRow)).scalars()
                 if r.idempotency_key.startswith("replay:")]  # fmt: skip
        assert sorted(types) == [("81", "set_balance"), ("T-1", "set_balance"),
                                 ("T-1", "set_deadlines"), ("T-1", "set_fields")]

    # applying again posts nothing more; replaying again finds nothing to change
    apply_changes(ctx.db, res.changes, NOW, rules=rules, settings=ctx.settings)
    assert len(_entries(ctx)) == len(after)
    assert replay_events(ctx.db, rules, ctx.settings, SINCE).changes == []


def test_the_cli_prints_per_ticket_changes_and_writes_only_with_apply(ctx, tmp_path) -> None:
    _history(ctx)
    config = _composite_config(tmp_path)
    settings_file = tmp_path / "deskpilot.yaml"
    settings_file.write_text(json.dumps({"connections": CONNECTIONS}))
    env = {
        "DESKPILOT_SETTINGS": str(settings_file),
        "DESKPILOT_DATABASE_URL": ctx.settings.database_url,
        "DESKPILOT_CONFIG_DIR": str(config),
    }
    args = ["rules", "replay", "--since", "2026-11-01", "--config", str(config)]
    before = _entries(ctx)
    res = CliRunner().invoke(main, args, env=env)
    assert res.exit_code == 0, res.output
    assert "generic/T-1:" in res.output and "units: 1 -> 3" in res.output
    assert "credits: 1 -> 3" in res.output and "dry run" in res.output
    assert _entries(ctx) == before
    res = CliRunner().invoke(main, [*args, "--apply"], env=env)
    assert res.exit_code == 0, res.output
    assert "applied generic/T-1:" in res.output
    assert len(_entries(ctx)) > len(before)


def test_events_of_an_unconfigured_connection_are_skipped_and_counted(ctx) -> None:
    _history(ctx)
    with ctx.db.session() as s:
        n = s.execute(select(func.count()).select_from(Event)).scalar_one()
        gone = Event(
            connection="gone", delivery_key="x", body_sha256="x" * 64, received_at=NOW,
            headers={}, body=b"{}", event_type="ticket.created", ticket_id="X-1",
            occurred_at=NOW, state=EventState.PROCESSED, attempts=1,
        )  # fmt: skip
        s.add(gone)
    res = replay_events(ctx.db, load_rules(ROOT / "config"), ctx.settings, SINCE)
    assert res.events == n + 1 and res.skipped == 1
    assert res.reasons == {"connection 'gone' no longer configured": 1}


def test_since_takes_a_date_or_a_datetime() -> None:
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00+02:00").utcoffset().total_seconds() == 7200
    with pytest.raises(ValueError):
        parse_since("yesterday")


def test_parsing_in_a_helper_process_gives_the_same_replay(ctx, tmp_path: Path) -> None:
    _history(ctx)
    rules = load_rules(_composite_config(tmp_path))
    here = replay_events(ctx.db, rules, ctx.settings, SINCE)
    helper = replay_events(ctx.db, rules, ctx.settings, SINCE, workers=1)
    assert (helper.events, helper.tickets, helper.skipped) == (here.events, here.tickets, 0)
    assert [(c.ticket_id, c.diff) for c in helper.changes] == [
        (c.ticket_id, c.diff) for c in here.changes
    ]



def _written(s, entries_before: int) -> tuple[list[tuple], list[tuple]]:
    """The ledger entries after the first ``entries_before`` and T-1's outbox commands."""
    entries = [
        (e.kind, e.units, e.reserved, e.cycle, e.ticket_key, e.task_type, e.key)
        for e in s.execute(select(CreditEntry).order_by(CreditEntry.id)).scalars()
    ][entries_before:]
    rows = s.execute(
        select(OutboxRow).where(OutboxRow.ticket_id == "T-1").order_by(OutboxRow.id)
    ).scalars()
    commands = [(r.idempotency_key, r.command) for r in rows
                if r.idempotency_key.startswith("replay:")]  # fmt: skip
    return entries, commands


def _timer_rows(s) -> list[tuple]:
    """(ticket, kind, due, state) of every timer row."""
    rows = s.execute(
        select(Ticket.host_ticket_id, TicketTimer.kind, TicketTimer.due_at, TicketTimer.state)
        .join(Ticket, Ticket.id == TicketTimer.ticket_pk)
        .order_by(Ticket.host_ticket_id, TicketTimer.kind)
    ).all()
    return [(t, kind, _utc(due), state) for t, kind, due, state in rows]


def _utc(at: datetime) -> datetime:
    """A stored instant in UTC (SQLite gives it back naive)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def test_a_correction_applies_as_processing_applies_the_same_decision(ctx, tmp_path) -> None:
    """Replay's --apply and the processing's apply_decision, given the same correction
    decision, post the same ledger entries, queue the same host commands and store the same
    ticket, and arm the same timers: the ledger keys differ only by the connection prefix
    processing puts on an op's key, and the balance push is the same command, keyed by the
    replay's company push (once per company per replay) instead of the decision's source."""
    from plugin.processing.apply import apply_decision, ticket_key
    from plugin.rules_replay_apply import correction
    from rules.decision import CompanyState, State

    _history(ctx)
    rules = load_rules(_composite_config(tmp_path))
    (ch,) = replay_events(ctx.db, rules, ctx.settings, SINCE).changes
    n = len(_entries(ctx))

    class Rollback(Exception):
        pass

    # the live processing of the correction, in a transaction rolled back afterwards
    with pytest.raises(Rollback), ctx.db.session() as s:
        row = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-1")).scalar_one()
        stored, tkey = ticket_state(row), ticket_key(row)
        version = ch.decision.rules_version.removeprefix("sha256:")[:12]
        cycle = ledger.live_debit_cycle(s, "acme", tkey, stored.cycle)
        fix = correction(ch, stored, row.company_id, tkey, cycle, version)
        state = State(stored, CompanyState(known=True, id="acme"))
        apply_decision(s, row, fix, state, rules, source_key=f"replay:{version}:{row.id}",
                       now=NOW)  # fmt: skip
        s.flush()
        live_row = (row.task_type, row.units, row.resolve_due, row.rules_version)
        live_state = ticket_state(row)
        live_entries, live_commands = _written(s, n)
        live_timers = _timer_rows(s)
        raise Rollback
    assert len(_entries(ctx)) == n  # rolled back

    assert apply_changes(ctx.db, [ch], NOW, rules=rules, settings=ctx.settings) == [
        "generic/T-1: state, ledger retyped, 2 host command(s) queued, "
        "balance of acme queued on 2 ticket(s)"
    ]
    with ctx.db.session() as s:
        entries, commands = _written(s, n)
        assert _timer_rows(s) == live_timers
        row = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-1")).scalar_one()
        replayed_row = (row.task_type, row.units, row.resolve_due, row.rules_version)
        replayed_state = ticket_state(row)
    assert [e[:6] for e in entries] == [e[:6] for e in live_entries]
    assert [e[:2] for e in entries] == [("reversal", 1), ("debit", -3)]
    assert [f"generic:{e[6]}" for e in entries] == [e[6] for e in live_entries]
    assert [c[1]["type"] for c in live_commands] == ["set_fields", "set_deadlines",
                                                     "set_balance"]  # fmt: skip
    assert commands[:2] == live_commands[:2]
    version = rules.version.removeprefix("sha256:")[:12]
    with ctx.db.session() as s:
        last = ledger.last_entry_id(s, "acme")
    assert commands[2:] == [(f"replay:{version}:balance:acme:{last}:generic:0",
                             live_commands[2][1])]  # fmt: skip
    assert replayed_row == live_row
    assert replayed_state == dataclasses.replace(live_state, known=replayed_state.known)


def test_an_open_ticket_is_corrected_by_swapping_its_reservation(ctx, tmp_path) -> None:
    """Accepted, not resolved: the correction releases the reservation and reserves the
    replayed units (the processing's re-type swap), keyed by the rules version; a second
    --apply posts nothing."""
    for delivery, ev, at, extra in (
        ("o1", "ticket.created", "2026-11-23T10:00:00+02:00", {"actor": "client"}),
        ("o2", "ticket.updated", "2026-11-23T10:20:00+02:00",
         {"status": "accepted", "changes": {"status": ["new", "accepted"]}}),
    ):  # fmt: skip
        assert process_event(store(ctx, payload("T-2", ev, at, **extra), delivery),
                             NOW) == EventState.PROCESSED  # fmt: skip
    with ctx.db.session() as s:
        assert ledger.balance(s, "acme", NOW).reserved == 1
    rules = load_rules(_composite_config(tmp_path, "T-2"))
    (ch,) = replay_events(ctx.db, rules, ctx.settings, SINCE).changes
    assert ch.diff["credits"] == (1, 3)
    n = len(_entries(ctx))
    assert apply_changes(ctx.db, [ch], NOW, rules=rules, settings=ctx.settings) == [
        "generic/T-2: state, ledger retyped, 2 host command(s) queued, timers re-armed, "
        "balance of acme queued on 1 ticket(s)"
    ]
    version = rules.version.removeprefix("sha256:")[:12]
    added = [(kind, units, key) for _, kind, units, key in _entries(ctx)[n:]]
    assert [a[0] for a in added] == ["release", "reserve"]
    assert {a[2] for a in added} == {f"replay:{version}:generic:T-2:0:release",
                                     f"replay:{version}:generic:T-2:0:reserve"}  # fmt: skip
    with ctx.db.session() as s:
        bal = ledger.balance(s, "acme", NOW)
        assert (bal.reserved, bal.balance) == (3, 10)
        row = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-2")).scalar_one()
        st = ticket_state(row)
        assert (st.reserved_units, st.task_type, row.units) == (3, "composite", 3)
    apply_changes(ctx.db, [ch], NOW, rules=rules, settings=ctx.settings)
    assert len(_entries(ctx)) == n + 2
    assert replay_events(ctx.db, rules, ctx.settings, SINCE).changes == []


# --- balance and timers after a correction (SQLite and PostgreSQL) ---------------------------

#: the generic connection shows the balance on tickets (issue 15's spread applies)
SHOWN = [{**CONNECTIONS[0], "field_map": {"balance": "credits_left"}}, CONNECTIONS[1]]
#: before the old breach warning (17:30 Kyiv), after the new one is armed for (13:30)
APPLY_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: after every event of the balance test
LATER = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def shown(db_url):
    c = connections_context(db_url, SHOWN)
    buy(c, "acme", 10, datetime(2026, 11, 20, tzinfo=UTC))
    yield c
    set_context(None)
    c.close()


def _open(ctx, ticket: str, company: str = "acme", day: str = "2026-11-23") -> None:
    """Filed 10:00 and accepted 10:20 (Kyiv) on ``day``, each processed when it happened."""
    for n, (ev, at, extra) in enumerate((
        ("ticket.created", f"{day}T10:00:00+02:00", {"actor": "client"}),
        ("ticket.updated", f"{day}T10:20:00+02:00",
         {"status": "accepted", "changes": {"status": ["new", "accepted"]}}),
    )):  # fmt: skip
        eid = store(ctx, payload(ticket, ev, at, company=company, **extra), f"{ticket}-{n}")
        assert process_event(eid, datetime.fromisoformat(at)) == EventState.PROCESSED


def _outbox(ctx) -> list[tuple[str, str, dict]]:
    """(ticket, key, command) of every outbox row, oldest first."""
    with ctx.db.session() as s:
        return [
            (r.ticket_id, r.idempotency_key, r.command)
            for r in s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars()
        ]


def _balance_pushes(ctx, after: int) -> tuple[str, dict[str, tuple[str, dict]]]:
    """The key prefix of the replay's latest balance push and its rows after the first
    ``after`` outbox rows: ticket -> (key without the prefix, figures)."""
    with ctx.db.session() as s:
        prefix = f"balance:acme:{ledger.last_entry_id(s, 'acme')}:"
    return prefix, {
        t: (k.split(prefix, 1)[1], c["data"])
        for t, k, c in _outbox(ctx)[after:]
        if c["type"] == "set_balance"
    }


def _figures(ctx) -> dict[str, object]:
    with ctx.db.session() as s:
        bal = ledger.balance(s, "acme", LATER)
    return {"company_id": "acme", "balance": bal.balance, "reserved": bal.reserved,
            "available": bal.available}  # fmt: skip


def test_a_retype_pushes_the_companys_new_balance_once(shown, tmp_path) -> None:
    """T-1 (resolved, 1 debited) re-typed composite x 3: the company's balance goes to its
    tickets once — the corrected T-1, the latest ticket of each connection, every open
    ticket of the connection that shows it — with the figures the ledger now holds; another
    company's ticket gets nothing; a second --apply queues nothing. A later replay on the
    same rules that moves the ledger again (T-4, resolved since) pushes its own balance."""
    _history(shown)  # T-1 and zammad 81 on Monday
    _open(shown, "T-2", day="2026-11-24")  # the next day: within the daily cap of 3
    _open(shown, "G-1", company="globex", day="2026-11-24")
    _open(shown, "T-3", day="2026-11-24")
    rules = load_rules(_config(tmp_path, {"T-[14]": ("composite", 3)}))
    (ch,) = replay_events(shown.db, rules, shown.settings, SINCE).changes
    assert ch.ticket_id == "T-1" and ch.diff["credits"] == (1, 3)
    n = len(_outbox(shown))

    lines = apply_changes(shown.db, [ch], LATER, rules=rules, settings=shown.settings)
    assert lines == ["generic/T-1: state, ledger retyped, 2 host command(s) queued, "
                     "balance of acme queued on 4 ticket(s)"]
    figures = _figures(shown)
    # 10 bought, T-1's 3 debited, T-2 and T-3 accepted (zammad 81 only filed)
    assert (figures["balance"], figures["reserved"]) == (10 - 3, 2)
    prefix, pushes = _balance_pushes(shown, n)
    assert prefix.startswith("balance:acme:") and pushes == {
        "T-1": ("generic:T-1:0", figures),  # the corrected ticket
        "T-3": ("generic:0", figures),  # the latest ticket of each connection
        "81": ("zm:0", figures),
        "T-2": ("open:generic:T-2:0", figures),  # an open ticket showing the balance
    }
    added = _outbox(shown)[n:]
    assert all(k.startswith(f"replay:{rules.version.removeprefix('sha256:')[:12]}:")
               for _, k, _ in added)  # fmt: skip
    assert {t for t, _, c in added if c["type"] != "set_balance"} == {"T-1"}
    assert not [r for r in _outbox(shown) if r[0] == "G-1" and r[1].startswith("replay:")]

    again = apply_changes(shown.db, [ch], LATER, rules=rules, settings=shown.settings)
    assert again == ["generic/T-1: state, ledger duplicate, 0 host command(s) queued"]
    assert len(_outbox(shown)) == n + len(added)
    assert _figures(shown) == figures

    # T-4 filed, accepted and resolved by the workers on the old rules since
    _open(shown, "T-4", day="2026-11-24")
    resolved = payload("T-4", "ticket.updated", "2026-11-24T11:00:00+02:00",
                       status="resolved", changes={"status": ["accepted", "resolved"]})
    assert process_event(store(shown, resolved, "T-4-r"), LATER) == EventState.PROCESSED
    (ch4,) = replay_events(shown.db, rules, shown.settings, SINCE).changes
    n = len(_outbox(shown))
    assert apply_changes(shown.db, [ch4], LATER, rules=rules, settings=shown.settings) == [
        "generic/T-4: state, ledger retyped, 2 host command(s) queued, "
        "balance of acme queued on 4 ticket(s)"]
    figures4 = _figures(shown)
    assert figures4["balance"] == 10 - 3 - 3
    later_prefix, pushes = _balance_pushes(shown, n)
    assert later_prefix != prefix and pushes == {
        "T-4": ("generic:0", figures4), "81": ("zm:0", figures4),
        "T-2": ("open:generic:T-2:0", figures4), "T-3": ("open:generic:T-3:0", figures4)}


def test_a_company_whose_last_change_fails_still_gets_its_balance(ctx, tmp_path,
                                                                 monkeypatch) -> None:
    """T-1 and T-2 (both acme) re-typed; T-2's correction fails: T-1's committed re-type
    still gets the company's balance, in a transaction of its own, before the error."""
    import plugin.rules_replay_apply as replay_apply

    _history(ctx)
    _open(ctx, "T-2", day="2026-11-24")
    rules = load_rules(_config(tmp_path, {"T-[12]": ("composite", 3)}))
    changes = replay_events(ctx.db, rules, ctx.settings, SINCE).changes
    assert [c.ticket_id for c in changes] == ["T-1", "T-2"]
    real = replay_apply.correction

    def failing(ch, *args):
        if ch.ticket_id == "T-2":
            raise RuntimeError("lost the database")
        return real(ch, *args)

    monkeypatch.setattr(replay_apply, "correction", failing)
    n = len(_outbox(ctx))
    with pytest.raises(RuntimeError, match="lost the database"):
        apply_changes(ctx.db, changes, LATER, rules=rules, settings=ctx.settings)
    pushes = {t: c["data"]["balance"] for t, _, c in _outbox(ctx)[n:]
              if c["type"] == "set_balance"}  # fmt: skip
    assert pushes == {"T-1": 10 - 3, "T-2": 10 - 3, "81": 10 - 3}  # T-2: generic's latest
    monkeypatch.undo()
    (left,) = replay_events(ctx.db, rules, ctx.settings, SINCE).changes
    assert apply_changes(ctx.db, [left], LATER, rules=rules, settings=ctx.settings) == [
        "generic/T-2: state, ledger retyped, 2 host command(s) queued, timers re-armed, "
        "balance of acme queued on 2 ticket(s)"]  # T-2 (generic's latest) and 81


def test_a_changed_deadline_rearms_the_tickets_timers(shown, tmp_path) -> None:
    """Simple tasks resolved in 4 working hours instead of 8 (T-2: due 14:00, not 18:00) and
    G-1 re-typed as an enhancement (no resolution deadline until one is stated): the breach
    warnings follow — T-2's row moves to the new instant, G-1's is cancelled, nothing stays
    armed for the old one; the scheduler warns at the new instant and not at the old; a
    second --apply changes no timer. No credits moved, so no balance is pushed."""
    from plugin.processing.firing import fire_due_timers

    _open(shown, "T-2")
    _open(shown, "G-1", company="globex")
    with shown.db.session() as s:
        old = _timer_rows(s)
    old_warning = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 18:00 Kyiv - 30 min
    assert {(t, due, state) for t, kind, due, state in old if kind == "breach_warning"} == {
        ("T-2", old_warning, TimerState.ARMED), ("G-1", old_warning, TimerState.ARMED)}

    rules = load_rules(_config(tmp_path, {"G-1": ("enhancement", 1)}, simple_resolve_hours=4))
    changes = replay_events(shown.db, rules, shown.settings, SINCE).changes
    assert {c.ticket_id: set(c.diff) for c in changes} == {
        "G-1": {"task_type", "resolve_due"}, "T-2": {"resolve_due"}}
    before = _outbox(shown)
    lines = apply_changes(shown.db, changes, APPLY_AT, rules=rules, settings=shown.settings)
    assert lines == ["generic/G-1: state, 2 host command(s) queued, timers re-armed",
                     "generic/T-2: state, 2 host command(s) queued, timers re-armed"]
    new_warning = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)  # 14:00 Kyiv - 30 min
    with shown.db.session() as s:
        after = _timer_rows(s)
        t2 = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-2")).scalar_one()
        assert _utc(t2.resolve_due) == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        assert datetime.fromisoformat(t2.facts["timers"]["breach_warning"]) == new_warning
    assert {(t, due, state) for t, kind, due, state in after if kind == "breach_warning"} == {
        ("T-2", new_warning, TimerState.ARMED), ("G-1", old_warning, TimerState.CANCELLED)}
    assert not [r for r in after if r[3] == TimerState.ARMED and r[2] == old_warning]
    assert [r for r in after if r[1] != "breach_warning"] == [
        r for r in old if r[1] != "breach_warning"]  # the other kinds as they were
    assert not [c for _, _, c in _outbox(shown)[len(before):] if c["type"] == "set_balance"]

    again = apply_changes(shown.db, changes, APPLY_AT, rules=rules, settings=shown.settings)
    assert again == ["generic/G-1: state, 0 host command(s) queued",
                     "generic/T-2: state, 0 host command(s) queued"]
    with shown.db.session() as s:
        assert _timer_rows(s) == after

    # the workers now run the new rules: the warning comes at the new instant, once
    client = FakeClient()
    shown.extras["rules"] = rules
    shown.extras["host-client-factory"] = lambda conn: client
    assert fire_due_timers(shown, new_warning) == "1 fired"
    notes = [(t, c.data["body"]) for t, cmds, _ in client.pushes for c in cmds
             if c.type == "add_note"]  # fmt: skip
    assert len(notes) == 1 and notes[0][0] == "T-2" and "resolve" in notes[0][1]
    assert fire_due_timers(shown, old_warning) == "0 fired"
