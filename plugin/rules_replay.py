"""Replay stored events through a rule set: per ticket, what would change (``rules replay``).

Events are folded per ticket in order through :func:`rules.engine.evaluate`, starting from
an empty state (company known when it is in the companies table, credits not limiting),
and the final decision is compared with the ``tickets`` row. ``--apply`` writes the new
type, units and deadlines to the row and, for completed tasks whose units changed, goes
through the ledger's ``retype`` (a reversal plus a new debit), never an edit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click
from sqlalchemy import select

from plugin.storage import Company, Database, Event, Ticket
from rules.decision import CompanyState, Decision, State, iso
from rules.engine import evaluate, with_state
from rules.generic_event import EventError, event_from_dict
from rules.model import RuleSet

COMPARED = ("task_type", "units", "accept_due", "first_response_due", "resolve_due", "deferred_to")


@dataclass
class Change:
    """What replay would change on one ticket."""

    connection: str
    ticket_id: str
    decision: Decision
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    completed: bool = False


def _events(db: Database, since: datetime) -> Iterable[tuple[str, str | None, bytes]]:
    with db.session() as s:
        q = (
            select(Event.connection, Event.ticket_id, Event.body)
            .where(Event.received_at >= since, Event.ticket_id.is_not(None))
            .order_by(Event.connection, Event.ticket_id, Event.occurred_at, Event.id)
        )
        yield from s.execute(q).tuples()


def replay_events(
    db: Database, rules: RuleSet, since: datetime, progress: bool = False
) -> list[Change]:
    """Fold the events received since ``since`` per ticket; return the tickets that change."""
    with db.session() as s:
        known = set(s.execute(select(Company.id)).scalars())
    rows = list(_events(db, since))
    finals: dict[tuple[str, str], Decision] = {}
    states: dict[tuple[str, str], State] = {}
    out: Any = None if progress else _Null()
    with click.progressbar(rows, label="replaying", file=out) as bar:
        for conn, tid, body in bar:
            try:
                event = event_from_dict(json.loads(body), connection=conn)
            except (EventError, ValueError):
                continue  # only generic bodies are replayed here; other hosts are skipped
            key = (conn, str(tid))
            cid = event.ticket.company.id if event.ticket.company else None
            state = states.get(key) or State(
                company=CompanyState(known=cid in known, id=cid, credits_available=10**6)
            )
            d = evaluate(rules, event, state, event.occurred_at, explain=False)
            states[key] = with_state(d, state)
            finals[key] = d
    return _compare(db, finals)


def _compare(db: Database, finals: dict[tuple[str, str], Decision]) -> list[Change]:
    out: list[Change] = []
    with db.session() as s:
        for (conn, tid), d in sorted(finals.items()):
            row = s.execute(
                select(Ticket).where(Ticket.connection == conn, Ticket.host_ticket_id == tid)
            ).scalar_one_or_none()
            ch = Change(conn, tid, d, completed=bool(row and row.resolved_at))
            for name in COMPARED:
                old = getattr(row, name, None) if row else None
                new = getattr(d, name)
                o, n = (iso(old), iso(new)) if name.endswith(("_due", "_to")) else (old, new)
                if o != n and not (
                    isinstance(old, datetime) and isinstance(new, datetime) and old == new
                ):
                    ch.diff[name] = (o, n)
            if ch.diff:
                out.append(ch)
    return out


def apply_changes(db: Database, changes: list[Change]) -> int:
    """Write the new type/units/deadlines; completed re-typed tasks go through ledger.retype."""
    from plugin import ledger

    now = datetime.now().astimezone()
    done = 0
    with db.session() as s:
        for ch in changes:
            row = s.execute(
                select(Ticket).where(
                    Ticket.connection == ch.connection, Ticket.host_ticket_id == ch.ticket_id
                )
            ).scalar_one_or_none()
            if row is None:
                continue
            d = ch.decision
            if "units" in ch.diff or "task_type" in ch.diff:
                if row.company_id and ch.completed:
                    ledger.retype(
                        s,
                        row.company_id,
                        f"{ch.connection}:{ch.ticket_id}",
                        d.cycle,
                        d.credits_on_resolve,
                        now,
                        task_type=d.task_type,
                        key=f"replay:{d.rules_version}",
                    )
            row.task_type, row.units = d.task_type, d.units
            row.accept_due, row.first_response_due = d.accept_due, d.first_response_due
            row.resolve_due, row.deferred_to = d.resolve_due, d.deferred_to
            row.calendar, row.rules_version = d.calendar, d.rules_version
            done += 1
        s.commit()
    return done


class _Null:
    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass
