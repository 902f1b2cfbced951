"""The task lists behind a report: stuck tasks (and their counts per group), tasks resolved
late, paid tasks over their estimate — each a few rows picked through an index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from plugin.reports.models import OPEN_WHERE
from plugin.reports.models import TicketMetrics as M
from plugin.reports.queries import Filters, Key, fetch, group_name
from plugin.storage.models import Ticket as T


def _stuck_where(now: datetime, idle: timedelta) -> list[Any]:
    activity = func.coalesce(M.last_activity_at, T.last_event_at, T.filed_at)
    # the open-ticket test spelled exactly as the partial index's condition, so the planner
    # sees that the index holds every candidate
    is_open = text(OPEN_WHERE)
    return [is_open, T.resolve_due.is_not(None), T.resolve_due < now, activity < now - idle]


_T_DIMS = (T.task_type, T.priority, T.company_id, T.manager)


def _key(row: Sequence[Any]) -> Key:
    return tuple(group_name(v) for v in row[:4])  # type: ignore[return-value]


def stuck_groups(session: Session, now: datetime, idle: timedelta,
                 filters: Filters) -> dict[Key, int]:
    """Open tasks past their deadline with no activity for ``idle`` (as of ``now``)."""
    q = (
        select(*_T_DIMS, func.count())
        .select_from(T)
        .outerjoin(M, M.ticket_id == T.id)
        .where(*_stuck_where(now, idle), *filters.where(T))
        .group_by(*_T_DIMS)
    )
    return {_key(row): int(row[4]) for row in fetch(session, q)}


def _ticket_item(t: T, m: M | None) -> dict[str, Any]:
    return {
        "connection": t.connection, "ticket_id": t.host_ticket_id, "subject": t.subject,
        "type": t.task_type, "priority": t.priority, "company": t.company_id,
        "manager": t.manager, "status": t.status,
        "resolve_due": t.resolve_due.isoformat() if t.resolve_due else None,
        "resolved_at": m.resolved_at.isoformat() if m and m.resolved_at else None,
        "last_activity_at": _iso((m.last_activity_at if m else None) or t.last_event_at),
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def stuck_list(session: Session, now: datetime, idle: timedelta, filters: Filters,
               limit: int = 50) -> list[dict[str, Any]]:
    q = (
        select(T, M).outerjoin(M, M.ticket_id == T.id)
        .where(*_stuck_where(now, idle), *filters.where(T))
        .order_by(T.resolve_due, T.id).limit(limit)
    )
    return [_ticket_item(t, m) for t, m in session.execute(q)]


def _resolved_items(session: Session, start: datetime, end: datetime, filters: Filters,
                    conditions: Sequence[Any], limit: int) -> list[tuple[T, M]]:
    # pick the ids from the covering index first, then join only those few tickets
    ids = (select(M.ticket_id)
           .where(M.resolved_at >= start, M.resolved_at < end, *conditions, *filters.where())
           .order_by(M.resolved_at.desc(), M.ticket_id).limit(limit))
    picked = [row[0] for row in fetch(session, ids)]
    if not picked:
        return []
    q = (select(T, M).join(M, M.ticket_id == T.id).where(T.id.in_(picked))
         .order_by(M.resolved_at.desc(), T.id))
    return [(t, m) for t, m in session.execute(q)]


def late_list(session: Session, start: datetime, end: datetime, filters: Filters,
              limit: int = 50) -> list[dict[str, Any]]:
    """Tasks resolved late in the period, newest first."""
    pairs = _resolved_items(session, start, end, filters, [M.resolved_on_time == 0], limit)
    return [_ticket_item(t, m) for t, m in pairs]


def overrun_list(session: Session, start: datetime, end: datetime, filters: Filters,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Enhancements resolved in the period whose logged time passed the estimate."""
    over = [M.task_type == "enhancement", M.estimate_hours.is_not(None),
            M.logged_minutes > M.estimate_hours * 60]
    return [
        {**_ticket_item(t, m), "estimate_hours": m.estimate_hours,
         "logged_hours": round(m.logged_minutes / 60, 2)}
        for t, m in _resolved_items(session, start, end, filters, over, limit)
    ]
