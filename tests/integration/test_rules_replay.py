"""``rules replay`` on SQLite: every host kind re-parsed, dry run writes nothing, --apply
re-types through ledger reversals (entries are only ever appended), and is idempotent."""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from plugin import ledger
from plugin.cli import main
from plugin.ledger.models import CreditEntry
from plugin.outbox.rows import OutboxRow
from plugin.processing.process import process_event
from plugin.processing.state import ticket_state
from plugin.rules_replay import apply_changes, parse_since, replay_events
from plugin.storage.models import Event, EventState, Ticket
from rules.config.loader import load_rules
from tests.jobs_support import SECRET, buy, connections_context, payload, store
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
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("tests"))
    cls = config / "rules" / "10-classify.yaml"
    rule = (
        "classify:\n"
        "  - name: t1-is-big\n"
        f"    when: {{field: ticket.subject, op: matches, value: '{ticket}$'}}\n"
        "    type: composite\n"
        "    units: 3\n"
    )
    cls.write_text(cls.read_text(encoding="utf-8").replace("classify:\n", rule, 1))
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

    lines = apply_changes(ctx.db, res.changes, NOW)
    assert lines == ["generic/T-1: state, ledger retyped, 2 host command(s) queued"]
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
        types = [r.command["type"] for r in s.execute(select(OutboxRow)).scalars()
                 if r.idempotency_key.startswith("replay:")]  # fmt: skip
        assert sorted(types) == ["set_deadlines", "set_fields"]

    # applying again posts nothing more; replaying again finds nothing to change
    apply_changes(ctx.db, res.changes, NOW)
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


def test_a_correction_applies_as_processing_applies_the_same_decision(ctx, tmp_path) -> None:
    """Replay's --apply and the processing's apply_decision, given the same correction
    decision, post the same ledger entries, queue the same host commands and store the same
    ticket: the ledger keys differ only by the connection prefix processing puts on an op's
    key, and processing adds what it adds around any decision that moves credits (the
    balance push), which a correction leaves out."""
    from plugin.processing.apply import apply_decision, ticket_key
    from plugin.rules_replay import correction
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
        raise Rollback
    assert len(_entries(ctx)) == n  # rolled back

    assert apply_changes(ctx.db, [ch], NOW) == [
        "generic/T-1: state, ledger retyped, 2 host command(s) queued"
    ]
    with ctx.db.session() as s:
        entries, commands = _written(s, n)
        row = s.execute(select(Ticket).where(Ticket.host_ticket_id == "T-1")).scalar_one()
        replayed_row = (row.task_type, row.units, row.resolve_due, row.rules_version)
        replayed_state = ticket_state(row)
    assert [e[:6] for e in entries] == [e[:6] for e in live_entries]
    assert [e[:2] for e in entries] == [("reversal", 1), ("debit", -3)]
    assert [f"generic:{e[6]}" for e in entries] == [e[6] for e in live_entries]
    assert [c[1]["type"] for c in live_commands] == ["set_fields", "set_deadlines",
                                                     "set_balance"]  # fmt: skip
    assert commands == live_commands[:2]
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
    assert apply_changes(ctx.db, [ch], NOW) == [
        "generic/T-2: state, ledger retyped, 2 host command(s) queued"
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
    apply_changes(ctx.db, [ch], NOW)
    assert len(_entries(ctx)) == n + 2
    assert replay_events(ctx.db, rules, ctx.settings, SINCE).changes == []
