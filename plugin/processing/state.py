"""Load the rules' :class:`~rules.decision.State` from the tables, and store it back.

The ticket's :class:`TicketState` is kept whole in ``Ticket.facts`` (JSON, datetimes
tagged), with the columns reports query (status, deadlines, ...) mirrored from it. Company
facts come from the ledger (credits available) and the cap-slot table (tasks per day).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from plugin.ledger.totals import Credits
from plugin.processing.credits import read_company
from plugin.processing.models import CapSlot
from plugin.storage.models import Ticket
from rules.decision import CompanyState, State, TicketState
from rules.event import Company as EvCompany
from rules.event import Ticket as EvTicket

#: cap slots older than this are not read (the cap only looks forward from today)
SLOT_LOOKBACK = timedelta(days=7)
#: fields of TicketState held as tuples (JSON gives lists back)
_TUPLE_FIELDS = {"pauses", "warned", "comments_seen", "time_entries"}
#: TicketState fields mirrored into Ticket columns of the same name
_MIRRORED = (
    "task_type", "status", "filed_at", "accepted_at", "resolved_at", "closed_at",
    "first_response_at", "accept_due", "first_response_due", "resolve_due", "deferred_to",
    "calendar",
)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$dt"}:
            return datetime.fromisoformat(value["$dt"])
        if set(value) == {"$d"}:
            return date.fromisoformat(value["$d"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def encode_ticket_state(st: TicketState) -> dict[str, Any]:
    """``st`` as JSON-able facts (the inverse of :func:`decode_ticket_state`)."""
    return {f.name: _encode(getattr(st, f.name)) for f in dataclasses.fields(TicketState)}


def decode_ticket_state(facts: Mapping[str, Any] | None) -> TicketState:
    """A TicketState from stored facts; unknown keys (an older engine's) are dropped."""
    names = {f.name for f in dataclasses.fields(TicketState)}
    kw: dict[str, Any] = {}
    for key, raw in (facts or {}).items():
        if key not in names:
            continue
        value = _decode(raw)
        kw[key] = _tuples(value) if key in _TUPLE_FIELDS else value
    return TicketState(**kw)


def ticket_state(ticket: Ticket | None) -> TicketState:
    """The stored state of ``ticket`` (an unknown ticket has the empty state)."""
    if ticket is None or not ticket.facts:
        return TicketState()
    return decode_ticket_state(ticket.facts.get("state"))


def store_ticket_state(ticket: Ticket, st: TicketState) -> None:
    """Write ``st`` into the ticket's facts and mirror it into the queryable columns."""
    facts = dict(ticket.facts or {})
    facts["state"] = encode_ticket_state(st)
    ticket.facts = facts
    mirror_state(ticket, st)


def mirror_state(ticket: Ticket, st: TicketState) -> None:
    """Copy ``st`` into the ticket's queryable columns (facts are the caller's)."""
    for name in _MIRRORED:
        value = getattr(st, name)
        if value is not None:
            setattr(ticket, name, value)
    if st.units:
        ticket.units = st.units


def set_slot(session: Session, ticket: Ticket, company_id: str | None, day: date | None) -> None:
    """Take (or, with ``day`` None, free) the ticket's cap slot."""
    # the processing job's ticket query found none: no need to ask again
    absent = ticket.id in session.info.get("deskpilot.no-slot", ())
    slot = None if absent else session.get(CapSlot, ticket.id)
    if day is None or company_id is None:
        if slot is not None:
            session.delete(slot)
        return
    if slot is None:
        session.add(CapSlot(ticket_pk=ticket.id, company_id=company_id, day=day))
        session.info.get("deskpilot.no-slot", set()).discard(ticket.id)
    else:
        slot.company_id, slot.day = company_id, day


def company_state(session: Session, company_id: str | None, today: date,
                  now: datetime) -> tuple[CompanyState, Credits | None]:
    """The company's stored facts (credits available, tasks per day) and its credits."""
    if company_id is None:
        return CompanyState(), None
    facts = read_company(session, company_id, now, today - SLOT_LOOKBACK)
    credits = facts.credits
    state = CompanyState(
        # SPEC §3 "no account": nothing ever posted to its ledger (no purchase, grant or
        # adjustment), or no mapping. The row the first event created on its own makes no
        # account (issue 17); the ledger's own definition (plugin.ledger.accounts)
        known=credits.has_account,
        id=company_id,
        credits_available=credits.available if credits.has_account else 0,
        started_by_day=facts.started_by_day,
        manager=facts.manager,
        calendar=facts.calendar,
        plan=facts.plan,
        facts={"has_account": credits.has_account, "balance": credits.balance,
               "reserved": credits.reserved},
    )
    return state, credits


def load_state(session: Session, ticket: Ticket | None, company_id: str | None,
               today: date, now: datetime) -> tuple[State, Credits | None]:
    """Everything ``rules.engine.evaluate`` reads about this ticket as of ``now``, and the
    company's credits (read once per transaction; the job compares them after the ledger).

    ``today`` is ``now``'s date in the team calendar (the cap counts its working days).
    """
    st = ticket_state(ticket)
    company, credits = company_state(session, company_id, today, now)
    idle_from = st.last_client_activity_at or st.filed_at
    idle = (now - idle_from).total_seconds() / 86400 if idle_from else None
    state = State(
        ticket=st,
        company=company,
        # None: the engine counts the cap on the ticket's own start day from
        # ``started_by_day`` (a count for "today" is wrong on evenings and weekends)
        tasks_today=None,
        client_idle_days=idle,
    )
    return state, credits


def encode_snapshot(t: EvTicket) -> dict[str, Any]:
    """The host's last ticket snapshot as JSON (timers evaluate against it)."""
    return {k: _encode(v) for k, v in dataclasses.asdict(t).items()}  # asdict once, not per field


def decode_snapshot(data: Mapping[str, Any] | None) -> EvTicket | None:
    if not data:
        return None
    names = {f.name for f in dataclasses.fields(EvTicket)}
    kw = {k: _decode(v) for k, v in data.items() if k in names}
    if kw.get("company"):
        kw["company"] = EvCompany(**kw["company"])
    kw["tags"] = tuple(kw.get("tags") or ())
    return EvTicket(**kw)


def stored_snapshot(ticket: Ticket) -> EvTicket | None:
    return decode_snapshot((ticket.facts or {}).get("snapshot"))


def store_snapshot(ticket: Ticket, snapshot: EvTicket) -> None:
    facts = dict(ticket.facts or {})
    facts["snapshot"] = encode_snapshot(snapshot)
    ticket.facts = facts
