"""What the rules engine returns, and the stored facts it reads.

``evaluate(rules, event, state, now) -> Decision`` is pure: the worker loads a
:class:`State` from its tables, hands it in with the event and the clock, and
executes the :class:`Decision` (host commands, credit operations, fact updates).
``explain --state FILE`` builds the same :class:`State` from JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

#: ``Decision.rule`` when the specialist's field or tag decided the type
OVERRIDE = "override"
#: ``Decision.rule`` when no classification rule matched
FALLBACK = "fallback"


class CreditKind:
    """Kinds of credit operation the ledger executes."""

    #: hold ``units`` of the company's available credits (at acceptance)
    RESERVE = "reserve"
    #: take ``units`` (completion: resolve or auto-close); consumes the reservation
    DEBIT = "debit"
    #: drop the reservation (cancel, merge, delete)
    RELEASE = "release"
    #: reverse an earlier debit (re-typed after completion); a new debit follows
    REVERSE = "reverse"
    #: a money line for an enhancement (estimate hours x rate), billed at completion
    MONEY = "money"


@dataclass(frozen=True)
class Money:
    """An amount in one currency."""

    amount: Decimal
    currency: str

    def to_json(self) -> dict[str, Any]:
        value = float(self.amount) if self.amount != self.amount.to_integral() else int(self.amount)
        return {"amount": value, "currency": self.currency}


@dataclass(frozen=True)
class CreditOp:
    """One operation for the ledger; ``key`` makes it idempotent (retries never repeat it)."""

    kind: str
    units: int = 0
    money: Money | None = None
    #: ``<ticket>:<cycle>:<kind>``; the ledger prefixes the connection name
    key: str = ""
    reason: str = ""
    #: the debit a REVERSE undoes (its key)
    reverses: str | None = None
    #: the engine's cycle of that debit (the ledger may hold it in an earlier one: see
    #: ``plugin.ledger.live_debit_cycle``)
    reverses_cycle: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "units": self.units, "key": self.key}
        if self.money is not None:
            out["money"] = self.money.to_json()
        if self.reverses:
            out["reverses"] = self.reverses
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Action:
    """A command for the host (SPEC §7 callback types) or for Deskpilot itself.

    Types: ``add_note`` {visibility client|internal, template, text}, ``set_status``
    {status}, ``set_deadlines`` {accept_due, resolve_due, ...}, ``set_fields`` {fields},
    ``assign`` {agent}, ``log_time`` {minutes}, ``notify`` {to, template, text}.
    """

    type: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **{k: _jsonable(v) for k, v in self.params.items()}}


@dataclass(frozen=True)
class Transitions:
    """Lifecycle changes this event caused."""

    filed: bool = False
    accepted: bool = False
    resolved: bool = False
    closed: bool = False
    auto_closed: bool = False
    reopened: bool = False
    #: merged, deleted or cancelled: the reservation is released
    released: bool = False
    retyped: bool = False
    deferred: bool = False
    held: bool = False

    def names(self) -> list[str]:
        return [k for k, v in self.__dict__.items() if v]


@dataclass(frozen=True)
class Deadlines:
    """The ticket's deadlines (aware datetimes in the calendar's zone, or None)."""

    accept_due: datetime | None = None
    first_response_due: datetime | None = None
    resolve_due: datetime | None = None
    deferred_to: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """Everything one event (or timer tick) means for one ticket."""

    ticket_id: str
    task_type: str
    units: int
    #: name of the classification rule, or ``override`` / ``fallback``
    rule: str
    calendar: str
    accept_due: datetime | None = None
    first_response_due: datetime | None = None
    resolve_due: datetime | None = None
    deferred_to: datetime | None = None
    transitions: Transitions = field(default_factory=Transitions)
    #: lifecycle cycle for idempotency keys (bumped when a completed task is re-typed)
    cycle: int = 0
    #: credits taken on completion (0 for bugs) and the money line, for explain
    credits_on_resolve: int = 0
    money: Money | None = None
    credit_ops: tuple[CreditOp, ...] = ()
    actions: tuple[Action, ...] = ()
    #: e.g. ``no_account``, ``over_cap``, ``overdraft``, ``retype_suggested``
    flags: tuple[str, ...] = ()
    #: facts to store on the ticket (``ticket.*``) and company (``company.*``)
    ticket_facts: Mapping[str, Any] = field(default_factory=dict)
    company_facts: Mapping[str, Any] = field(default_factory=dict)
    #: the working day whose cap slot this ticket takes (None: exempt or unchanged)
    slot_day: date | None = None
    manager: str | None = None
    rules_version: str = ""
    trace: tuple[Mapping[str, Any], ...] = ()
    #: per deadline name, the target's timeline entries (from rules.targets)
    timelines: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    #: the event did not concern the engine (own write, unknown event)
    ignored: str | None = None

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(
            self.accept_due, self.first_response_due, self.resolve_due, self.deferred_to
        )

    def to_json(self) -> dict[str, Any]:
        """The SPEC §7 ``explain --json`` object, field for field."""
        return {
            "ticket_id": self.ticket_id,
            "task_type": self.task_type,
            "units": self.units,
            "rule": self.rule,
            "calendar": self.calendar,
            "accept_due": iso(self.accept_due),
            "first_response_due": iso(self.first_response_due),
            "resolve_due": iso(self.resolve_due),
            "deferred_to": iso(self.deferred_to),
            "credits": {
                "on_resolve": self.credits_on_resolve,
                "money": self.money.to_json() if self.money else None,
            },
            "actions": [a.to_json() for a in self.actions],
            "rules_version": self.rules_version,
            "trace": [dict(t) for t in self.trace],
        }


@dataclass(frozen=True)
class TicketState:
    """What Deskpilot stored about the ticket before this event."""

    known: bool = False
    task_type: str | None = None
    units: int | None = None
    rule: str | None = None
    status: str | None = None
    filed_at: datetime | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    first_response_at: datetime | None = None
    cycle: int = 0
    accept_due: datetime | None = None
    first_response_due: datetime | None = None
    resolve_due: datetime | None = None
    deferred_to: datetime | None = None
    calendar: str | None = None
    logged_minutes: int = 0
    #: comments applied (ids, fingerprints) and time entries logged (id, minutes), newest
    #: last and bounded: :mod:`rules.items` counts each once
    comments_seen: tuple[str, ...] = ()
    time_entries: tuple[tuple[str, int], ...] = ()
    reopen_count: int = 0
    #: last client comment (or filing); auto-close counts idle days from here
    last_client_activity_at: datetime | None = None
    #: when the team set resolved / waiting_client (auto-close start)
    waiting_since: datetime | None = None
    #: (start, end or None) intervals while the clock was paused
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()
    estimate_hours: float | None = None
    due_at: datetime | None = None
    reserved_units: int = 0
    #: units debited in the current cycle (0 = not debited)
    debited_units: int = 0
    debited_type: str | None = None
    slot_day: date | None = None
    retype_noted: bool = False
    escalated: bool = False
    warned: tuple[str, ...] = ()
    held: bool = False
    #: units of a held task resolved anyway, debited once credits arrive (plan
    #: ``held_resolved: pending``); 0 = none pending
    debit_pending: int = 0
    #: the filing notice "credits don't cover this task" went out (not repeated at the hold)
    short_noticed: bool = False
    facts: Mapping[str, Any] = field(default_factory=dict)


def updated(st: TicketState, facts: Mapping[str, Any]) -> TicketState:
    """``dataclasses.replace(st, **facts)`` without re-running ``__init__`` (~10x faster).

    ``facts`` are a decision's ``ticket_facts``: field names only (the engine filters them).
    Replay folds every stored event through this.
    """
    new = object.__new__(TicketState)
    new.__dict__.update(st.__dict__)
    new.__dict__.update(facts)
    return new


@dataclass(frozen=True)
class CompanyState:
    """What Deskpilot knows about the ticket's company."""

    known: bool = False
    id: str | None = None
    credits_available: int = 0
    #: working day -> tasks whose clocks start that day (incl. deferred ones)
    started_by_day: Mapping[date, int] = field(default_factory=dict)
    manager: str | None = None
    calendar: str | None = None
    plan: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class State:
    """The facts an evaluation reads: the ticket's and its company's stored state."""

    ticket: TicketState = field(default_factory=TicketState)
    company: CompanyState = field(default_factory=CompanyState)
    #: tasks the company started on the current working day (explain shortcut)
    tasks_today: int | None = None
    client_idle_days: float | None = None


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with whole seconds, keeping the value's offset."""
    return value.replace(microsecond=0).isoformat() if value is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
