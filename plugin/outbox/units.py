"""Per-command outcomes of a push: which calls carry which outbox rows, and what a refusal costs.

A claimed batch is sent in *units*. A host client whose push is one call (``atomic``: the
generic callback; a refused call applied nothing) gets the whole batch as one unit. A client
that needs several calls for a batch gets every note and time entry as a unit of its own, in
row order (client-visible notes first), then all field writes coalesced as one more unit: a
refused field write then never costs the client a message, and a unit's steps map to its own
rows, so nothing is ever posted twice.

When the host refuses a unit (a 4xx other than 401/404/429), the unit is split: each row alone,
then a row's independent parts (:func:`parts`): a ``set_fields`` field by field, a
``set_deadlines`` write by write (the host's own due date, then each deadline's field).
Whatever the host accepts is delivered; only the rows it refused fail, with the host's status
and message and, as the command left to resend, the parts it refused joined back into one
(:class:`Outcome`). A push the host accepts is never split: it stays one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from plugin.hosts.errors import ClientError, HostHTTPError
from plugin.outbox.commands import (
    ADD_NOTE,
    LOG_TIME,
    SET_DEADLINES,
    SET_FIELDS,
    Command,
    coalesce,
    deadline_part,
    deadline_writes,
)

#: statuses where every call would be refused alike: splitting would only multiply calls
_NO_SPLIT = frozenset({401})


@dataclass(frozen=True)
class Unit:
    """Rows sent together in one ``HostClient.push``."""

    ids: tuple[int, ...]
    commands: tuple[Command, ...]


@dataclass
class Refusal:
    """A row the host refused; ``command`` is what is left to deliver (its refused parts)."""

    row_id: int
    error: HostHTTPError
    command: Command | None = None


@dataclass
class Outcome:
    """What the units of one batch came to."""

    delivered: list[int] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    calls: int = 0
    recorded: bool = False


def is_refusal(exc: BaseException) -> bool:
    """A 4xx that refuses this write (not the credentials, not a missing ticket, not 429)."""
    return isinstance(exc, ClientError) and exc.status not in _NO_SPLIT


def _append(cmd: Command) -> bool:
    return cmd.type in (ADD_NOTE, LOG_TIME)


def _client_note(cmd: Command) -> bool:
    return cmd.type == ADD_NOTE and cmd.data.get("visibility") == "client"


def plan(client: Any, ids: Sequence[int], commands: Sequence[Command]) -> list[Unit]:
    """The units of a batch (see the module docstring)."""
    rows = list(zip(ids, commands, strict=True))
    appended = [r for r in rows if _append(r[1])]
    if getattr(client, "atomic", True) or not appended or len(rows) == 1:
        return [Unit(tuple(ids), tuple(commands))]
    fields = [r for r in rows if not _append(r[1])]
    ordered = [r for r in appended if _client_note(r[1])] + \
        [r for r in appended if not _client_note(r[1])]
    units = [Unit((i,), (c,)) for i, c in ordered]
    if fields:
        units.append(Unit(tuple(i for i, _ in fields), tuple(c for _, c in fields)))
    return units


def parts(cmd: Command, *, deadlines: bool = True) -> list[Command]:
    """A command's independent parts, in a fixed order: one per field of a ``set_fields``;
    with ``deadlines`` (a client that writes a part alone, ``HostClient.scoped_deadlines``)
    one per write of a ``set_deadlines`` (``commands.deadline_part``); else itself. A part
    whose write the client has no mapping for costs no call."""
    if cmd.type == SET_FIELDS and len(cmd.data["fields"]) > 1:
        return [Command.set_fields(**{k: v}) for k, v in cmd.data["fields"].items()]
    if cmd.type == SET_DEADLINES and deadlines:
        writes = deadline_writes(cmd.data)
        if len(writes) > 1:
            return [deadline_part(cmd, w) for w in writes]
    return [cmd]


def split_refused(push: Any, unit: Unit, key: str, error: HostHTTPError,
                  outcome: Outcome, *, deadlines: bool = True) -> None:
    """After ``error`` refused ``unit``: send its rows one by one (then a row's parts), so
    only what the host refuses fails. ``push(commands, key)`` pushes; it raises on failure.
    A transient failure here propagates (the caller retries the rows not yet delivered).
    ``deadlines``: whether a ``set_deadlines`` splits (see :func:`parts`)."""
    if len(unit.ids) == 1:
        row, cmd = unit.ids[0], unit.commands[0]
        pieces = parts(cmd, deadlines=deadlines)
        if len(pieces) == 1:
            outcome.refused.append(Refusal(row, error, cmd))
            return
        left: list[Command] = []
        last = error
        for n, piece in enumerate(pieces):
            try:
                outcome.calls += push([piece], f"{key}/p{n}").calls
            except Exception as exc:
                if not is_refusal(exc):
                    raise
                assert isinstance(exc, HostHTTPError)
                left.append(piece)
                last = exc
        if left:
            merged = coalesce(left)[0]
            outcome.refused.append(Refusal(row, last, merged))
        else:
            outcome.delivered.append(row)
        return
    for row, cmd in zip(unit.ids, unit.commands, strict=True):
        one = Unit((row,), (cmd,))
        try:
            outcome.calls += push([cmd], f"{key}/r{row}").calls
        except Exception as exc:
            if not is_refusal(exc):
                raise
            assert isinstance(exc, HostHTTPError)
            split_refused(push, one, f"{key}/r{row}", exc, outcome, deadlines=deadlines)
        else:
            outcome.delivered.append(row)
