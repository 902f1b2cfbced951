"""Writes the host refused: their durable record, the note on the ticket, resend and discard.

A refused outbox row stays in the database (state ``failed``) with the host's status and
message, when it failed and how many attempts it took: Redis may be embedded and forget its
failed jobs, the database does not. Operators see the rows with ``deskpilot outbox list``
and on the dashboard, resend them once the host or the configuration is fixed, or discard
them with a reason. Each refusal also writes an internal note on the ticket (when the
refused write was not itself an internal note), so the team sees in the helpdesk what
Deskpilot could not write; its text is the ``refused_*`` team templates, in the team's
language (:mod:`plugin.team_texts`). ``describe`` is the operators' (CLI, dashboard) wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

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
    deadline_writes,
)
from plugin.outbox.rows import DUE_AT_ONCE, OutboxRow, OutboxState, add_commands
from plugin.outbox.units import Refusal
from plugin.team_texts import team_text
from rules.config.model import RuleSet

#: every write a host refused, by connection and the host's HTTP status
REFUSED = Counter("deskpilot_host_refused_writes", "Writes the host refused (4xx)",
                  ["host", "status"])


def describe(command: dict[str, Any]) -> str:
    """What a stored command writes, in a few words."""
    data = command.get("data") or {}
    kind = command.get("type")
    if kind == ADD_NOTE:
        return ("a message to the client" if data.get("visibility") == "client"
                else "an internal note")
    if kind == SET_FIELDS:
        return "fields " + ", ".join(sorted(data.get("fields") or {}))
    if kind == SET_DEADLINES:
        names = deadline_names(data, "the host's due date")
        return ("deadline " if len(names) == 1 and data.get(ONLY) else "deadlines ") \
            + ", ".join(names)
    return {SET_STATUS: f"status {data.get('status')}", ASSIGN: "the assignee",
            SET_BALANCE: "the credit balance", LOG_TIME: f"{data.get('minutes')} min of time"
            }.get(str(kind), str(kind))


def deadline_names(data: dict[str, Any], host_due: str) -> list[str]:
    """What a ``set_deadlines`` writes, by name: a part of a refused one exactly the writes
    that are left (``host_due`` naming the host's own due date), a whole one its deadlines
    that have a value."""
    if data.get(ONLY):
        return [host_due if w == HOST_DUE else w for w in deadline_writes(data)]
    return [k for k, v in sorted(data.items()) if v is not None]


#: what a refused write was, as the team template naming it (``refused_*``) reads it
_WRITES = {SET_STATUS: "refused_status", ASSIGN: "refused_assignee",
           SET_BALANCE: "refused_balance", LOG_TIME: "refused_time"}


def _write_text(rules: RuleSet, command: dict[str, Any]) -> str:
    """:func:`describe` in the team's language (the note's own words for the write)."""
    data = command.get("data") or {}
    kind = str(command.get("type"))
    if kind == ADD_NOTE:
        return team_text(rules, "refused_client_message" if data.get("visibility") == "client"
                         else "refused_internal_note")
    if kind == SET_FIELDS:
        names = sorted(data.get("fields") or {})
        return team_text(rules, "refused_fields", fields=", ".join(names),
                         field_count=len(names))
    if kind == SET_DEADLINES:
        names = deadline_names(data, team_text(rules, "refused_host_due"))
        return team_text(rules, "refused_deadlines", deadlines=", ".join(names),
                         deadline_count=len(names))
    if kind not in _WRITES:
        return kind
    return team_text(rules, _WRITES[kind], status=data.get("status"),
                     minutes=data.get("minutes"))


def note_text(rules: RuleSet, rows: Sequence[OutboxRow]) -> str:
    """The internal note about refused writes (templates ``refused_writes``/``refused_write``,
    in the team's language)."""
    lines = [team_text(rules, "refused_write", write=_write_text(rules, r.command),
                       host_status=r.refused_status, host_message=_message(r.last_error),
                       outbox_id=r.id) for r in rows]
    return team_text(rules, "refused_writes", refused="\n".join(lines),
                     refused_count=len(rows))


def _message(error: str | None) -> str:
    text = error or ""
    return text.split(": ", 1)[1] if ": " in text else text


def record_refusals(session: Session, rows: Iterable[OutboxRow], refused: Sequence[Refusal],
                    now: datetime, rules: RuleSet) -> list[int]:
    """Mark the refused rows failed with the host's answer; write one internal note about
    them on their ticket, in the team's language of ``rules``. Returns the note's row ids
    (to push)."""
    by_id = {r.id: r for r in rows}
    noted: list[OutboxRow] = []
    for ref in refused:
        row = by_id.get(ref.row_id)
        if row is None:
            continue
        row.state, row.failed_at, row.claimed_until = OutboxState.FAILED, now, None
        row.refused_status = ref.error.status
        row.last_error = f"{ref.error.__class__.__name__}: {ref.error}"[:2000]
        row.batch_key, row.steps_done = None, None
        if ref.command is not None and ref.command.to_json() != row.command:
            row.command = ref.command.to_json()  # only the refused parts are left to send
        REFUSED.labels(host=row.connection, status=str(ref.error.status)).inc()
        if not (row.command.get("type") == ADD_NOTE
                and (row.command.get("data") or {}).get("visibility") == "internal"):
            noted.append(row)
    if not noted:
        return []
    first = noted[0]
    return add_commands(session, first.connection, first.ticket_id,
                        [Command.add_note(note_text(rules, noted), "internal")],
                        f"refused:{first.id}:{now.isoformat()}", now,
                        company_id=first.company_id)


@dataclass(frozen=True)
class Refused:
    """One failed outbox row as operators see it."""

    id: int
    connection: str
    ticket_id: str
    what: str
    status: int | None
    message: str
    attempts: int
    created_at: datetime
    failed_at: datetime | None
    state: str
    discard_reason: str | None
    command: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "connection": self.connection, "ticket_id": self.ticket_id,
                "what": self.what, "host_status": self.status, "host_message": self.message,
                "attempts": self.attempts, "created_at": self.created_at.isoformat(),
                "failed_at": self.failed_at.isoformat() if self.failed_at else None,
                "state": self.state, "discard_reason": self.discard_reason,
                "command": self.command}


def _view(row: OutboxRow) -> Refused:
    return Refused(row.id, row.connection, row.ticket_id, describe(row.command),
                   row.refused_status, _message(row.last_error), row.attempts, row.created_at,
                   row.failed_at, row.state, row.discard_reason, row.command)


def list_refused(session: Session, *, connection: str | None = None,
                 discarded: bool = False, limit: int = 200,
                 company: str | None = None) -> list[Refused]:
    """Failed rows, newest first (``discarded``: the discarded ones too)."""
    states = [OutboxState.FAILED, *([OutboxState.DISCARDED] if discarded else [])]
    stmt = select(OutboxRow).where(OutboxRow.state.in_(states))
    if connection:
        stmt = stmt.where(OutboxRow.connection == connection)
    if company:
        stmt = stmt.where(OutboxRow.company_id == company)
    rows = session.execute(stmt.order_by(OutboxRow.id.desc()).limit(limit)).scalars()
    return [_view(r) for r in rows]


def get_row(session: Session, row_id: int) -> Refused | None:
    row = session.get(OutboxRow, row_id)
    return _view(row) if row is not None else None


class NotFailed(ValueError):
    """The row does not exist or is not failed (nothing to resend or discard)."""


def _failed(session: Session, ids: Sequence[int]) -> list[OutboxRow]:
    rows = list(session.execute(select(OutboxRow).where(OutboxRow.id.in_(ids))).scalars())
    found = {r.id: r for r in rows}
    for i in ids:
        row = found.get(i)
        if row is None:
            raise NotFailed(f"no outbox row #{i}")
        if row.state != OutboxState.FAILED:
            raise NotFailed(f"outbox row #{i} is {row.state}, not failed")
    return rows


def requeue(session: Session, ids: Sequence[int]) -> list[tuple[str, str]]:
    """Make failed rows pending again (due at once); returns their tickets to push."""
    tickets = set()
    for row in _failed(session, ids):
        row.state, row.next_attempt_at, row.claimed_until = OutboxState.PENDING, DUE_AT_ONCE, None
        row.batch_key, row.steps_done, row.attempts = None, None, 0
        tickets.add((row.connection, row.ticket_id))
    return sorted(tickets)


def discard(session: Session, ids: Sequence[int], reason: str, now: datetime) -> int:
    if not reason.strip():
        raise NotFailed("a discard needs a reason")
    rows = _failed(session, ids)
    for row in rows:
        row.state, row.discard_reason, row.discarded_at = \
            OutboxState.DISCARDED, reason.strip()[:2000], now
    return len(rows)


def failed_ids(session: Session, connection: str | None = None) -> list[int]:
    stmt = select(OutboxRow.id).where(OutboxRow.state == OutboxState.FAILED)
    if connection:
        stmt = stmt.where(OutboxRow.connection == connection)
    return list(session.execute(stmt.order_by(OutboxRow.id)).scalars())
