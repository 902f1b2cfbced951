"""SQL aggregation of stored ticket metrics into :class:`~plugin.reports.kpis.Tally` groups.

Each cohort is one indexed range scan grouped by every dimension at once (type, priority,
company, manager, specialist); the per-dimension breakdowns are rolled up in Python from
those few groups, so a report costs a handful of queries whatever the breakdown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from plugin.reports.kpis import MESSAGES_FLAG, WORKING_DAY_MINUTES, WORKING_HOUR_MINUTES, Tally
from plugin.reports.models import TicketMetrics as M
from plugin.storage.models import Ticket as T

DIMS = ("type", "priority", "company", "manager")
NONE = "(none)"
DONE = ("resolved", "closed")
#: a group key: (type, priority, company, manager)
Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Filters:
    """Restrict a report to one company and/or one support manager."""

    company: str | None = None
    manager: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.company:
            out.append(T.company_id == self.company)
        if self.manager:
            out.append(T.manager == self.manager)
        return out


def _n(expr: ColumnElement[Any]) -> Any:
    return func.coalesce(func.sum(case((expr, 1), else_=0)), 0)


_DIM_COLS = (T.task_type, T.priority, T.company_id, T.manager)


def _key(row: Sequence[Any]) -> Key:
    return tuple(str(v) if v is not None else NONE for v in row[:4])  # type: ignore[return-value]


def resolved_groups(
    session: Session, start: datetime, end: datetime, filters: Filters, grouped: bool = True
) -> dict[Key, Tally]:
    """Tickets whose latest resolution lies in ``[start, end)``."""
    msgs = M.messages_client + M.messages_agent
    minutes = func.coalesce(M.resolution_minutes, 0)
    paid = and_(T.task_type == "enhancement", M.estimate_hours.is_not(None))
    specialist = func.coalesce(M.resolved_by, T.manager)
    cols: list[Any] = [*_DIM_COLS, specialist] if grouped else []
    q = (
        select(
            *cols,
            func.count(),
            _n(M.resolved_on_time.is_not(None)),
            func.coalesce(func.sum(M.resolved_on_time), 0),
            _n(minutes <= WORKING_DAY_MINUTES),
            _n(minutes <= WORKING_HOUR_MINUTES),
            _n(M.reopen_count == 0),
            func.coalesce(func.sum(msgs), 0),
            _n(msgs > MESSAGES_FLAG),
            _n(paid),
            func.coalesce(func.sum(case((paid, M.estimate_hours), else_=0.0)), 0.0),
            func.coalesce(func.sum(case((paid, M.logged_minutes), else_=0)), 0),
            _n(and_(paid, M.logged_minutes > M.estimate_hours * 60)),
        )
        .select_from(M)
        .join(T, T.id == M.ticket_id)
        .where(M.resolved_at >= start, M.resolved_at < end, *filters.where())
    )
    if grouped:
        q = q.group_by(*cols)
    out: dict[Key, Tally] = {}
    for row in session.execute(q):
        key = _key(row) if grouped else (NONE,) * 4
        nums = row[5:] if grouped else row
        ints = [int(v) for v in nums[:9]]
        t = Tally(
            resolved=ints[0], with_deadline=ints[1], on_time=ints[2], within_day=ints[3],
            within_hour=ints[4], first_time=ints[5], messages=ints[6], over_messages=ints[7],
            paid=ints[8], paid_estimate_hours=float(nums[9]),
            paid_logged_minutes=int(nums[10]), overruns=int(nums[11]),
        )
        if grouped and row[4] is not None:
            t.resolvers.add(str(row[4]))
        if t.resolved:
            out.setdefault(key, Tally()).add(t)
    return out


def first_response_groups(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> dict[Key, Tally]:
    """First public agent replies in the period; the raw minutes, for medians and p90."""
    q = (
        select(*_DIM_COLS, M.first_response_minutes)
        .select_from(M)
        .join(T, T.id == M.ticket_id)
        .where(M.first_response_at >= start, M.first_response_at < end,
               M.first_response_minutes.is_not(None), *filters.where())
    )
    out: dict[Key, Tally] = defaultdict(Tally)
    for row in session.execute(q):
        out[_key(row)].first_responses.append(float(row[4] or 0.0))
    return out


def rating_groups(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> dict[Key, Tally]:
    """Ratings given in the period, 1-5 and 0-10 apart."""
    ten = M.rating_scale == 10
    q = (
        select(
            *_DIM_COLS,
            _n(~ten), func.coalesce(func.sum(case((~ten, M.rating_score), else_=0)), 0),
            _n(and_(~ten, M.rating_score >= 4)),
            _n(ten), _n(and_(ten, M.rating_score >= 9)), _n(and_(ten, M.rating_score <= 6)),
        )
        .select_from(M)
        .join(T, T.id == M.ticket_id)
        .where(M.rated_at >= start, M.rated_at < end, M.rating_score.is_not(None),
               *filters.where())
        .group_by(*_DIM_COLS)
    )
    out: dict[Key, Tally] = {}
    for row in session.execute(q):
        r5, s5, sat, r10, pro, det = (int(v) for v in row[4:])
        out[_key(row)] = Tally(rated5=r5, score5=s5, satisfied5=sat, rated10=r10,
                               promoters=pro, detractors=det)
    return out


def _stuck_where(now: datetime, idle: timedelta) -> list[ColumnElement[bool]]:
    activity = func.coalesce(M.last_activity_at, T.last_event_at, T.filed_at)
    return [T.status.not_in(DONE), T.resolve_due.is_not(None), T.resolve_due < now,
            activity < now - idle]


def stuck_groups(session: Session, now: datetime, idle: timedelta,
                 filters: Filters) -> dict[Key, int]:
    """Open tasks past their deadline with no activity for ``idle`` (as of ``now``)."""
    q = (
        select(*_DIM_COLS, func.count())
        .select_from(T)
        .outerjoin(M, M.ticket_id == T.id)
        .where(*_stuck_where(now, idle), *filters.where())
        .group_by(*_DIM_COLS)
    )
    return {_key(row): int(row[4]) for row in session.execute(q)}


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
        .where(*_stuck_where(now, idle), *filters.where())
        .order_by(T.resolve_due, T.id).limit(limit)
    )
    return [_ticket_item(t, m) for t, m in session.execute(q)]


def late_list(session: Session, start: datetime, end: datetime, filters: Filters,
              limit: int = 50) -> list[dict[str, Any]]:
    """Tasks resolved late in the period, newest first."""
    q = (
        select(T, M).join(M, M.ticket_id == T.id)
        .where(M.resolved_at >= start, M.resolved_at < end, M.resolved_on_time == 0,
               *filters.where())
        .order_by(M.resolved_at.desc(), T.id).limit(limit)
    )
    return [_ticket_item(t, m) for t, m in session.execute(q)]


def overrun_list(session: Session, start: datetime, end: datetime, filters: Filters,
                 limit: int = 50) -> list[dict[str, Any]]:
    """Enhancements resolved in the period whose logged time passed the estimate."""
    q = (
        select(T, M).join(M, M.ticket_id == T.id)
        .where(M.resolved_at >= start, M.resolved_at < end, T.task_type == "enhancement",
               M.estimate_hours.is_not(None), M.logged_minutes > M.estimate_hours * 60,
               *filters.where())
        .order_by(M.resolved_at.desc(), T.id).limit(limit)
    )
    return [
        {**_ticket_item(t, m), "estimate_hours": m.estimate_hours,
         "logged_hours": round(m.logged_minutes / 60, 2)}
        for t, m in session.execute(q)
    ]


def breach_counts(session: Session, start: datetime, end: datetime,
                  filters: Filters) -> dict[str, int]:
    """Missed deadlines whose moment (acceptance, reply, resolution) lies in the period."""
    def count(at: Any, flag: Any) -> int:
        q = (select(func.count()).select_from(M).join(T, T.id == M.ticket_id)
             .where(at >= start, at < end, flag, *filters.where()))
        return int(session.execute(q).scalar_one())

    return {
        "accept": count(M.accepted_at, M.accept_breached == 1),
        "first_response": count(M.first_response_at, M.first_response_breached == 1),
        "resolve": count(M.resolved_at, M.resolved_on_time == 0),
    }


def merge(*parts: dict[Key, Tally]) -> dict[Key, Tally]:
    out: dict[Key, Tally] = defaultdict(Tally)
    for part in parts:
        for key, t in part.items():
            out[key].add(t)
    return out


def rollup(groups: dict[Key, Tally], dim: int | None) -> dict[str, Tally]:
    """Fold fine groups by one dimension (index into :data:`DIMS`), or all into ``""``."""
    out: dict[str, Tally] = defaultdict(Tally)
    for key, t in groups.items():
        out["" if dim is None else key[dim]].add(t)
    return dict(out)
