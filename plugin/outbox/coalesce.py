"""Fold a ticket's pending commands into one change set a client turns into requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from plugin.outbox.commands import (
    ADD_NOTE,
    ASSIGN,
    HOST_DUE,
    LOG_TIME,
    ONLY,
    SET_BALANCE,
    SET_DEADLINES,
    SET_FIELDS,
    SET_STATUS,
    Command,
    coalesce,
    deadline_writes,
)


@dataclass(frozen=True)
class Note:
    """One note to post; ``internal`` notes are hidden from the client."""

    body: str
    internal: bool


@dataclass(frozen=True)
class TimeLog:
    """One time entry to log."""

    minutes: int
    note: str | None = None
    agent_id: str | None = None
    #: the comment a host shows with the entry, in the team's language (``time_logged``)
    comment: str | None = None


@dataclass
class ChangeSet:
    """Everything one push must write for one ticket, after coalescing."""

    status: str | None = None
    #: ``None`` when no deadline command is pending; else accept/first_response/resolve due
    deadlines: Mapping[str, str | None] | None = None
    #: what of the deadlines to write (``commands.deadline_writes``): all of it, unless the
    #: command is a part of a refused one
    deadline_writes: frozenset[str] = frozenset()
    fields: dict[str, Any] = field(default_factory=dict)
    assignee: str | None = None
    balances: list[Mapping[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    time_logs: list[TimeLog] = field(default_factory=list)

    @property
    def host_due(self) -> bool:
        """Write the host's own due date (derived from the deadlines)."""
        return self.deadlines is not None and HOST_DUE in self.deadline_writes

    def deadline_fields(self) -> dict[str, str | None]:
        """The deadlines to write to their mapped fields, by Deskpilot name."""
        return {k: v for k, v in (self.deadlines or {}).items() if k in self.deadline_writes}

    @property
    def empty(self) -> bool:
        return not (self.status or self.deadlines is not None or self.fields or self.assignee
                    or self.balances or self.notes or self.time_logs)


def changeset(commands: Sequence[Command]) -> ChangeSet:
    """Coalesce ``commands`` (last status/deadlines/fields/balance win) and fold them."""
    out = ChangeSet()
    for cmd in coalesce(commands):
        data = cmd.data
        if cmd.type == SET_STATUS:
            out.status = data["status"]
        elif cmd.type == SET_DEADLINES:
            out.deadlines = {k: v for k, v in data.items() if k != ONLY}
            out.deadline_writes = frozenset(deadline_writes(data))
        elif cmd.type == SET_FIELDS:
            out.fields.update(data["fields"])
        elif cmd.type == ASSIGN:
            out.assignee = str(data["agent_id"])
        elif cmd.type == SET_BALANCE:
            out.balances.append(dict(data))
        elif cmd.type == ADD_NOTE:
            out.notes.append(Note(data["body"], data["visibility"] == "internal"))
        elif cmd.type == LOG_TIME:
            agent = data.get("agent_id")
            out.time_logs.append(TimeLog(int(data["minutes"]), data.get("note"),
                                         str(agent) if agent is not None else None,
                                         data.get("comment")))
    return out
