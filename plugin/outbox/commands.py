"""The commands the outbox stores and the host clients carry out.

A ``Command`` is plain JSON-able data: the processing job writes it to the outbox in the
same transaction as the ledger entries, and a push job hands a ticket's pending commands to
``HostClient.push``. Clients decide nothing; they only translate commands into requests.

Data per type:

=================  ===========================================================================
``set_status``     ``{"status": <one of rules.event.STATUSES>}``
``set_deadlines``  ``{"accept_due", "first_response_due", "resolve_due"}``: ISO strings or None,
                   plus ``"deferred_to"`` (when a deferred task's clocks start) if given; a
                   *part* (what is left of a refused one, see :func:`deadline_part`) also has
                   ``"only"``: the writes it makes
``log_time``       ``{"minutes": int, "note": str | None, "agent_id": str | None}``, plus
                   ``"comment"``: what a host that shows a comment on a time log writes
                   (team template ``time_logged``, rendered by the writer) if given
``add_note``       ``{"visibility": "client" | "internal", "body": str}``
``set_fields``     ``{"fields": {name: value}}`` (task_type, units, estimate_hours, ...)
``assign``         ``{"agent_id": str}``
``set_balance``    ``{"company_id": str, "balance", "reserved", "available"}`` (numbers)
=================  ===========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rules.event import STATUSES

SET_STATUS = "set_status"
SET_DEADLINES = "set_deadlines"
LOG_TIME = "log_time"
ADD_NOTE = "add_note"
SET_FIELDS = "set_fields"
ASSIGN = "assign"
SET_BALANCE = "set_balance"

TYPES = (SET_STATUS, SET_DEADLINES, LOG_TIME, ADD_NOTE, SET_FIELDS, ASSIGN, SET_BALANCE)
DEADLINE_KEYS = ("accept_due", "first_response_due", "resolve_due")
#: optional key of ``set_deadlines``: the instant a deferred task's clocks start
DEFERRED_TO = "deferred_to"
#: key of a ``set_deadlines`` part: the list of writes it makes, in ``DEADLINE_WRITES`` order.
#: A command without it writes all of them (the host's due date and every mapped field).
ONLY = "only"
#: the write of the host's own due date, derived from the deadlines (Redmine and
#: django-helpdesk ``due_date``, Freshdesk ``due_by``/``fr_due_by``, Zendesk's date field)
HOST_DUE = "host_due"
#: every write a ``set_deadlines`` can make: the host's due date, then one field per deadline
DEADLINE_WRITES = (HOST_DUE, *DEADLINE_KEYS, DEFERRED_TO)
VISIBILITIES = ("client", "internal")


class CommandError(ValueError):
    """A command whose type or data does not match the model above."""


def _check(type_: str, data: Mapping[str, Any]) -> None:
    # Validated at construction so a bad command fails in the processing job (inside its
    # transaction), not later in a push job that would retry it forever.
    if type_ not in TYPES:
        raise CommandError(f"unknown command type {type_!r}")
    if type_ == SET_STATUS and data.get("status") not in STATUSES:
        raise CommandError(f"set_status: unknown status {data.get('status')!r}")
    if type_ == SET_DEADLINES:
        _check_deadlines(data)
    if type_ == LOG_TIME:
        minutes = data.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise CommandError(f"log_time: minutes must be a positive int, got {minutes!r}")
    if type_ == ADD_NOTE:
        if data.get("visibility") not in VISIBILITIES:
            raise CommandError(f"add_note: visibility must be one of {VISIBILITIES}")
        if not isinstance(data.get("body"), str) or not data["body"]:
            raise CommandError("add_note: body must be a non-empty string")
    if type_ == SET_FIELDS and not isinstance(data.get("fields"), Mapping):
        raise CommandError("set_fields: fields must be a mapping")
    if type_ == ASSIGN and not data.get("agent_id"):
        raise CommandError("assign: agent_id is required")
    if type_ == SET_BALANCE and not data.get("company_id"):
        raise CommandError("set_balance: company_id is required")


def _check_deadlines(data: Mapping[str, Any]) -> None:
    if not set(data) <= {*DEADLINE_KEYS, DEFERRED_TO, ONLY}:
        unknown = sorted(set(data) - {*DEADLINE_KEYS, DEFERRED_TO, ONLY})
        raise CommandError(f"set_deadlines: unknown keys {unknown}")
    if ONLY not in data:
        return
    only = data[ONLY]
    if not isinstance(only, (list, tuple)) or not only or not set(only) <= set(DEADLINE_WRITES):
        raise CommandError(f"set_deadlines: only must list some of {DEADLINE_WRITES}")
    # each write needs its values: the host's due date is derived from all three deadlines
    needed = {k for w in only for k in (DEADLINE_KEYS if w == HOST_DUE else (w,))}
    if not needed <= set(data):
        raise CommandError(f"set_deadlines: only {list(only)} without {sorted(needed - set(data))}")


@dataclass(frozen=True)
class Command:
    """One change to write to the host; JSON-able, stored in the outbox."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.type, self.data)
        # Frozen all the way down: a coalesced command must not alias a caller's dict.
        object.__setattr__(self, "data", MappingProxyType(_thaw(self.data)))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "data": _thaw(self.data)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Command:
        return cls(type=d["type"], data=d.get("data") or {})

    # Convenience constructors keep call sites short and spelled consistently.
    @classmethod
    def set_status(cls, status: str) -> Command:
        return cls(SET_STATUS, {"status": status})

    @classmethod
    def set_deadlines(cls, **due: str | None) -> Command:
        data = {k: due.get(k) for k in DEADLINE_KEYS}
        if DEFERRED_TO in due:
            data[DEFERRED_TO] = due[DEFERRED_TO]
        return cls(SET_DEADLINES, data)

    @classmethod
    def log_time(cls, minutes: int, note: str | None = None,
                 agent_id: str | None = None, comment: str | None = None) -> Command:
        data: dict[str, Any] = {"minutes": minutes, "note": note, "agent_id": agent_id}
        if comment:
            data["comment"] = comment
        return cls(LOG_TIME, data)

    @classmethod
    def add_note(cls, body: str, visibility: str = "internal") -> Command:
        return cls(ADD_NOTE, {"visibility": visibility, "body": body})

    @classmethod
    def set_fields(cls, **fields: Any) -> Command:
        return cls(SET_FIELDS, {"fields": fields})

    @classmethod
    def assign(cls, agent_id: str) -> Command:
        return cls(ASSIGN, {"agent_id": agent_id})

    @classmethod
    def set_balance(cls, company_id: str, balance: Any, reserved: Any,
                    available: Any) -> Command:
        return cls(SET_BALANCE, {"company_id": company_id, "balance": balance,
                                 "reserved": reserved, "available": available})


def deadline_writes(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The writes a ``set_deadlines`` makes (``DEADLINE_WRITES`` order): its ``only``, else
    the host's due date and a field for each deadline it carries."""
    if ONLY in data:
        return tuple(w for w in DEADLINE_WRITES if w in data[ONLY])
    return tuple(w for w in DEADLINE_WRITES if w == HOST_DUE or w in data)


def deadline_part(cmd: Command, write: str) -> Command:
    """The part of a ``set_deadlines`` that makes one of its writes: the host's due date
    (with the three deadlines it is derived from) or one deadline's field (its value alone)."""
    keys = DEADLINE_KEYS if write == HOST_DUE else (write,)
    return Command(SET_DEADLINES, {**{k: cmd.data.get(k) for k in keys}, ONLY: [write]})


def join_deadlines(earlier: Command | None, later: Command) -> Command:
    """Two ``set_deadlines`` of one ticket folded: a whole snapshot replaces what came before;
    a part adds its writes (its values win), so parts joined back make the whole again."""
    if earlier is None or ONLY not in later.data:
        return later
    values = {k: v for k, v in {**earlier.data, **later.data}.items() if k != ONLY}
    writes = set(deadline_writes(earlier.data)) | set(later.data[ONLY])
    if writes >= set(deadline_writes(values)) and set(DEADLINE_KEYS) <= set(values):
        return Command(SET_DEADLINES, values)
    return Command(SET_DEADLINES, {**values, ONLY: [w for w in DEADLINE_WRITES if w in writes]})


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


# Order in which coalesced "last wins" commands come out; appended items follow.
_LAST_WINS_ORDER = (SET_FIELDS, SET_STATUS, SET_DEADLINES, ASSIGN, SET_BALANCE)


def coalesce(commands: Sequence[Command]) -> list[Command]:
    """Fold a ticket's pending commands: last status/deadlines/assignee/balance win,
    fields merge (later keys win), notes and time logs are kept in order.

    Deadlines are whole snapshots (None clears a deadline), so the last one wins outright;
    a part of one (a refused write resent) joins what came before (:func:`join_deadlines`).
    Balances are kept per company. Hosts like Zendesk allow only 30 updates per ticket per
    10 minutes, so a burst of decisions must become one write.
    """
    fields: dict[str, Any] = {}
    last: dict[str, Command] = {}
    balances: dict[str, Command] = {}
    appended: list[Command] = []
    for cmd in commands:
        if cmd.type == SET_FIELDS:
            fields.update(cmd.data["fields"])
        elif cmd.type == SET_BALANCE:
            balances.pop(cmd.data["company_id"], None)
            balances[cmd.data["company_id"]] = cmd
        elif cmd.type in (LOG_TIME, ADD_NOTE):
            appended.append(cmd)
        elif cmd.type == SET_DEADLINES:
            last[cmd.type] = join_deadlines(last.get(cmd.type), cmd)
        else:
            last[cmd.type] = cmd
    out: list[Command] = []
    for type_ in _LAST_WINS_ORDER:
        if type_ == SET_FIELDS and fields:
            out.append(Command(SET_FIELDS, {"fields": fields}))
        elif type_ == SET_BALANCE:
            out.extend(balances.values())
        elif type_ in last:
            out.append(last[type_])
    return out + appended


@dataclass(frozen=True)
class PushResult:
    """What a push did: how many host calls, and whether it was only recorded."""

    ticket_id: str
    calls: int = 0
    recorded: bool = False
    detail: str = ""
    #: host-side ids created by the push (article/note/time entry ids), for the log
    created: tuple[str, ...] = ()
    #: the steps this attempt completed (see ``plugin.hosts.base``)
    steps: tuple[str, ...] = ()
