"""The company's tasks as the client reads them: bounded pages, deadlines, time left, time
logged, credits taken, the host's reference and a link a client can open. Reads ``tickets``
and ``ticket_metrics`` only (no event replay).

Open and finished tasks are each paged (``PAGE_SIZE`` a page) with their count, so a client
with many open tasks pages through all of them ("showing 21–40 of 57").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.cabinet.host_links import reference
from plugin.processing.state import decode_ticket_state
from plugin.reports.models import TicketMetrics as M
from plugin.storage.models import Ticket as T
from rules.calendar import Calendar
from rules.calendar.business_time import working_between
from rules.lifecycle import DONE, ENDED

#: open tasks, and finished tasks, per page
PAGE_SIZE = 20
#: a ticket's client link from its connection, host id and stored snapshot
Linker = Callable[[str, str, Mapping[str, Any] | None], str | None]
Calendars = Callable[[str | None], Calendar]

_COLUMNS = (T.id, T.connection, T.host_ticket_id, T.subject, T.task_type, T.units, T.status,
            T.filed_at, T.accepted_at, T.accept_due, T.resolve_due, T.resolved_at,
            T.closed_at, T.deferred_to, T.calendar, T.last_event_at, T.facts,
            M.logged_minutes, M.estimate_hours, M.resolved_on_time)


def _query() -> Any:
    return select(*_COLUMNS).outerjoin(M, M.ticket_id == T.id)


def _page(session: Session, where: tuple[Any, ...], order: tuple[Any, ...],
          page: int) -> tuple[list[Any], int]:
    """Page ``page`` (1-based) of the tasks ``where`` and how many there are (no count
    query when the first page holds them all)."""
    rows = session.execute(_query().where(*where).order_by(*order)
                           .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    if page == 1 and len(rows) < PAGE_SIZE:
        return list(rows), len(rows)
    total = session.execute(select(func.count()).select_from(T).where(*where)).scalar_one()
    return list(rows), int(total)


def open_page(session: Session, company_id: str, page: int = 1) -> tuple[list[Any], int]:
    """Open tasks, soonest deadline first (none last), page ``page``; and how many are open."""
    return _page(session, (T.company_id == company_id, T.status.not_in(ENDED)),
                 (T.resolve_due.is_(None), T.resolve_due, T.filed_at.desc(), T.id.desc()),
                 page)


def done_page(session: Session, company_id: str, page: int) -> tuple[list[Any], int]:
    """Finished tasks, newest filed first, page ``page``; and how many are finished."""
    return _page(session, (T.company_id == company_id, T.status.in_(DONE)),
                 (T.filed_at.desc(), T.id.desc()), page)


def paging(page: int, total: int) -> dict[str, Any]:
    """What a pager shows: the page, its first and last position (1-based; 0 and 0 on a
    page past the end), the total and whether more follow."""
    first = (page - 1) * PAGE_SIZE + 1
    last = min(page * PAGE_SIZE, total)
    return {"page": page, "page_size": PAGE_SIZE, "total": total,
            "first": first if last >= first else 0, "last": last if last >= first else 0,
            "more": total > page * PAGE_SIZE}


def _local(value: datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def _minutes(delta: Any) -> int:
    return int(delta.total_seconds() // 60)


def shape(row: Any, tz: ZoneInfo, now: datetime, calendars: Calendars, link: Linker,
          labels: dict[str, str]) -> dict[str, Any]:
    """One task as the cabinet shows it; instants in the company's zone ``tz``."""
    st = decode_ticket_state((row.facts or {}).get("state"))
    snapshot = (row.facts or {}).get("snapshot")
    done = row.status in DONE
    open_pause = bool(st.pauses) and st.pauses[-1][1] is None
    paused_since = st.pauses[-1][0] if open_pause else None
    left: int | None = None
    overdue = False
    if not done and row.resolve_due is not None:
        cal = calendars(row.calendar)
        if paused_since is not None:
            # the clock stands still: what was left when the pause began (the deadline was
            # already stretched by the pause up to the last evaluation)
            upto = max(row.last_event_at or paused_since, paused_since)
            left = _minutes(working_between(paused_since, row.resolve_due, cal,
                                            [(paused_since, upto)]))
        else:
            left = _minutes(working_between(now, row.resolve_due, cal))
            overdue = now > row.resolve_due
    on_time: bool | None = None
    if done:
        if row.resolved_on_time is not None:
            on_time = bool(row.resolved_on_time)
        elif row.resolve_due is not None and row.resolved_at is not None:
            on_time = row.resolved_at <= row.resolve_due
    estimate = row.estimate_hours if row.estimate_hours is not None else st.estimate_hours
    return {
        "ticket": row.host_ticket_id,
        "reference": reference(snapshot, row.host_ticket_id),
        "url": link(row.connection, row.host_ticket_id, snapshot),
        "subject": row.subject,
        "type": row.task_type,
        "type_label": labels.get(row.task_type or "", row.task_type),
        "units": row.units,
        "status": row.status,
        "filed_at": _local(row.filed_at, tz),
        "accepted_at": _local(row.accepted_at, tz),
        "accept_due": _local(row.accept_due, tz),
        "resolve_due": _local(row.resolve_due, tz),
        "resolved_at": _local(row.resolved_at, tz),
        "deferred_to": _local(row.deferred_to, tz),
        "paused": open_pause and not done,
        "paused_since": _local(paused_since, tz) if not done else None,
        "working_minutes_left": left,
        "overdue": overdue,
        "on_time": on_time,
        "logged_minutes": int(row.logged_minutes or st.logged_minutes or 0),
        "estimate_hours": estimate if row.task_type == "enhancement" else None,
        "credits_reserved": st.reserved_units,
        "credits_debited": st.debited_units,
    }
