"""Replay stored events through a rule set: per ticket, what would change (``rules replay``).

Every ticket with an event received since the given instant is replayed from its first
stored event: each raw body is parsed again by its connection's adapter
(``webhooks.hosts.ADAPTERS[conn.kind]``, any host kind), the ticket events are folded in
``occurred_at`` order through :func:`rules.engine.evaluate` (the daily cap counted across
the replayed tickets, credits never limiting), and the outcome is compared with what the
workers stored: type, units, deadlines and the credits charged or held.

Nothing is written here: ``--apply`` hands the changes to
:func:`plugin.rules_replay_apply.apply_changes`, which carries each out as a correction
decision through the processing's apply code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TextIO

import click
from sqlalchemy import select

from plugin.processing.state import ticket_state
from plugin.rules_replay_parse import parsed
from plugin.storage import Company, Database, Event, Ticket
from rules.config.model import RuleSet
from rules.decision import CompanyState, Decision, State, TicketState, iso, updated
from rules.engine import evaluate
from rules.event import EventType

#: credits replay pretends every company has: what-if is about rules, not balances
NOT_LIMITING = 10**9
DEADLINES = ("accept_due", "first_response_due", "resolve_due", "deferred_to")
_CHUNK = 1000


@dataclass
class Change:
    """What replay would change on one ticket (``diff``: name -> (stored, replayed)).

    ``company_id``: the stored ticket's company when compared (None: none, or not stored).
    """

    connection: str
    ticket_id: str
    decision: Decision
    state: TicketState
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    company_id: str | None = None


@dataclass
class Replay:
    """The outcome of one replay run."""

    events: int = 0
    ticket_events: int = 0
    skipped: int = 0
    tickets: int = 0
    changes: list[Change] = field(default_factory=list)
    #: why events were skipped, with counts (unknown connection, unparseable body, ...)
    reasons: dict[str, int] = field(default_factory=dict)
    #: the stored events the rules could not evaluate: (event id, ``conn/ticket: why``); the
    #: replay goes on without them (an event stored before the receiver bounded its dates)
    unevaluated: list[tuple[int, str]] = field(default_factory=list)

    def skip(self, why: str) -> None:
        self.skipped += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1


def charged(st: TicketState) -> int:
    """Credits the ticket holds in the ledger: debited once completed, else reserved."""
    return st.debited_units if st.debited_type is not None else st.reserved_units


def _event_ids(db: Database, since: datetime) -> list[tuple[int, str, str]]:
    """(id, connection, ticket) of every stored event of the tickets touched since ``since``."""
    with db.session() as s:
        touched = set(
            s.execute(
                select(Event.connection, Event.ticket_id)
                .where(Event.received_at >= since, Event.ticket_id.is_not(None))
                .distinct()
            )
        )
        rows = s.execute(
            select(Event.id, Event.connection, Event.ticket_id)
            .where(Event.ticket_id.is_not(None))
            .order_by(Event.occurred_at, Event.id)
        )
        return [(i, c, str(t)) for i, c, t in rows if (c, t) in touched]


def _chunks(db: Database, ids: list[int]) -> Iterator[list[tuple[str, bytes, dict[str, Any]]]]:
    """(connection, body, headers) in the order of ``ids``, read a chunk at a time."""
    for n in range(0, len(ids), _CHUNK):
        chunk = ids[n : n + _CHUNK]
        with db.session() as s:
            got = {
                i: (c, bytes(b), dict(h or {}))
                for i, c, b, h in s.execute(
                    select(Event.id, Event.connection, Event.body, Event.headers).where(
                        Event.id.in_(chunk)
                    )
                )
            }
        yield [got[i] for i in chunk]


def _companies(db: Database) -> dict[str, CompanyState]:
    from plugin.ledger.models import CreditEntry

    with db.session() as s:
        # an account as the worker sees one (plugin.processing.state): anything ever posted
        accounts = set(s.execute(select(CreditEntry.company_id).distinct()).scalars())
        return {
            c.id: CompanyState(
                known=c.id in accounts,
                id=c.id,
                credits_available=NOT_LIMITING,
                started_by_day={},
                manager=c.manager,
                calendar=c.calendar,
                plan=c.plan,
            )
            for c in s.execute(select(Company)).scalars()
        }


def replay_events(
    db: Database,
    rules: RuleSet,
    settings: Any,
    since: datetime,
    progress: TextIO | None = None,
    workers: int = 0,
) -> Replay:
    """Fold the stored events of every ticket touched since ``since``; compare with storage.

    ``settings.connections`` parse the raw bodies (each with its adapter); ``progress`` is a
    stream for a progress bar (e.g. ``sys.stderr``), or None; ``workers`` helper processes
    parse ahead of the fold (0: parse here).
    """
    out = Replay()
    ids = _event_ids(db, since)
    companies = _companies(db)
    tickets: dict[tuple[str, str], TicketState] = {}
    finals: dict[tuple[str, str], Decision] = {}
    empty = TicketState()
    connections = {c.name: c for c in settings.connections}
    stream = parsed(_chunks(db, [i for i, _, _ in ids]), connections, workers)
    with click.progressbar(
        stream,
        length=len(ids),
        label="replaying",
        file=progress,
        hidden=progress is None,
        update_min_steps=max(1, len(ids) // 200),
    ) as bar:
        for (event_id, _, _), (conn_name, events, skipped) in zip(ids, bar, strict=True):
            out.events += 1
            if events is None:
                out.skip(skipped or "unparseable")
                continue
            for ev in events:
                if ev.own_write or ev.event == EventType.UNKNOWN:
                    continue
                key = (conn_name, ev.ticket.id)
                cid = ev.ticket.company.id if ev.ticket.company else None
                company = companies.get(cid or "")
                if company is None:
                    company = CompanyState(
                        id=cid, credits_available=NOT_LIMITING, started_by_day={}
                    )
                    companies[cid or ""] = company
                before = tickets.get(key, empty)
                try:
                    d = evaluate(rules, ev, State(before, company), ev.occurred_at,
                                 explain=False)
                except Exception as exc:  # noqa: BLE001 - one bad event must not end the replay
                    out.skip(f"cannot be evaluated ({type(exc).__name__})")
                    out.unevaluated.append((event_id, f"{conn_name}/{ev.ticket.id}: {exc}"))
                    continue
                tickets[key] = updated(before, d.ticket_facts)
                finals[key] = d
                _count_slot(company.started_by_day, d.company_facts)
                out.ticket_events += 1
    out.tickets = len(finals)
    out.changes = _compare(db, finals, tickets)
    return out


def _count_slot(counts: Any, facts: Mapping[str, Any]) -> None:
    """The cap slots the replayed decisions take and free (what ``with_state`` does)."""
    free, take = facts.get("free_slot"), facts.get("take_slot")
    if free is not None:
        counts[free] = max(0, counts.get(free, 0) - 1)
    if take is not None:
        counts[take] = counts.get(take, 0) + 1


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return old == new
    return bool(old == new)


def _shown(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def _compare(
    db: Database,
    finals: Mapping[tuple[str, str], Decision],
    tickets: Mapping[tuple[str, str], TicketState],
) -> list[Change]:
    out: list[Change] = []
    conns = sorted({c for c, _ in finals})
    with db.session() as s:
        rows = {
            (t.connection, t.host_ticket_id): (t.task_type, t.units, ticket_state(t), t)
            for t in s.execute(select(Ticket).where(Ticket.connection.in_(conns))).scalars()
        }
        for key, d in sorted(finals.items()):
            task_type, units, stored, row = rows.get(key, (None, None, TicketState(), None))
            new = tickets[key]
            ch = Change(key[0], key[1], d, new, company_id=row.company_id if row else None)
            pairs: list[tuple[str, Any, Any]] = [
                ("task_type", task_type, d.task_type),
                ("units", units, d.units),
                *((name, getattr(stored, name), getattr(d, name)) for name in DEADLINES),
                ("credits", charged(stored), charged(new)),
            ]
            for name, old, value in pairs:
                if not _same(old, value):
                    ch.diff[name] = (_shown(old), _shown(value))
            if ch.diff:
                out.append(ch)
    return out


def parse_since(text: str) -> datetime:
    """``--since``: a date (midnight UTC) or an ISO datetime (UTC when naive)."""
    from datetime import UTC

    value = datetime.fromisoformat(text) if "T" in text or " " in text else None
    if value is None:
        value = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return value if value.tzinfo else value.replace(tzinfo=UTC)
