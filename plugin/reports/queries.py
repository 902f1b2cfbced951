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

from sqlalchemy import ColumnElement, and_, case, func, literal, select
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
#: report dimension -> the tickets column it groups by
DIM_COLUMN = dict(zip(DIMS, _DIM_COLS, strict=True))
#: one group per dimension value; ``""`` holds the overall figures
Groups = dict[str, dict[str, Tally]]


def _key(row: Sequence[Any]) -> Key:
    return tuple(str(v) if v is not None else NONE for v in row[:4])  # type: ignore[return-value]


def _name(value: Any) -> str:
    return str(value) if value is not None else NONE


def _rollup(rows: Any, dims: Sequence[str], width: int,
            specialist: bool) -> dict[str, dict[str, list[Any]]]:
    """Sum groups keyed by ``dims`` (then [specialist], then ``width`` numbers) into one
    group per value of each of ``dims``; the last slot counts distinct specialists."""
    out: dict[str, dict[str, list[Any]]] = {d: {} for d in dims}
    seen: dict[str, dict[str, set[str]]] = {d: defaultdict(set) for d in dims}
    first = len(dims) + (1 if specialist else 0)
    for row in rows:
        vals = row[first:first + width]
        who = row[len(dims)] if specialist else None
        for i, dim in enumerate(dims):
            name = "" if dim == "" else _name(row[i])
            acc = out[dim].get(name)
            if acc is None:
                out[dim][name] = [v or 0 for v in vals]
            else:
                for j, v in enumerate(vals):
                    acc[j] += v or 0
            if who is not None:
                seen[dim][name].add(str(who))
    for dim, groups in out.items():
        for name, acc in groups.items():
            acc.append(len(seen[dim].get(name, ())))
    return out


#: two scans per cohort: small dimensions together (cheap roll-up), companies apart
_SCANS: tuple[tuple[str, ...], ...] = (("", "type", "priority", "manager"), ("company",))
_COL = {"": literal(""), **DIM_COLUMN}


def _scans(session: Session, aggregates: Sequence[Any], where: Sequence[Any], width: int,
           specialist: Any = None,
           scans: Sequence[tuple[str, ...]] = _SCANS) -> dict[str, dict[str, list[Any]]]:
    out: dict[str, dict[str, list[Any]]] = {}
    for dims in scans:
        keys = [_COL[d] for d in dims] + ([specialist] if specialist is not None else [])
        q = (select(*keys, *aggregates).select_from(M).join(T, T.id == M.ticket_id)
             .where(*where).group_by(*keys))
        out.update(_rollup(session.execute(q), dims, width, specialist is not None))
    return out


def resolved_tallies(
    session: Session, start: datetime, end: datetime, filters: Filters,
    scans: Sequence[tuple[str, ...]] = _SCANS,
) -> Groups:
    """Tickets whose latest resolution lies in ``[start, end)``, overall and per dimension."""
    msgs = M.messages_client + M.messages_agent
    minutes = func.coalesce(M.resolution_minutes, 0)
    paid = and_(T.task_type == "enhancement", M.estimate_hours.is_not(None))
    aggregates = (
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
    where = [M.resolved_at >= start, M.resolved_at < end, *filters.where()]
    specialist = func.coalesce(M.resolved_by, T.manager)
    sums = _scans(session, aggregates, where, 12, specialist, scans)
    return {dim: {name: Tally(
        resolved=int(v[0]), with_deadline=int(v[1]), on_time=int(v[2]),
        within_day=int(v[3]), within_hour=int(v[4]), first_time=int(v[5]),
        messages=int(v[6]), over_messages=int(v[7]), paid=int(v[8]),
        paid_estimate_hours=float(v[9]), paid_logged_minutes=int(v[10]),
        overruns=int(v[11]), specialists=int(v[12]),
    ) for name, v in groups.items()} for dim, groups in sums.items()}


def resolved_overall(session: Session, start: datetime, end: datetime,
                     filters: Filters) -> Tally:
    """One overall tally (the weekly trend's points)."""
    return resolved_tallies(session, start, end, filters, (("",),))[""].get("", Tally())


def rating_tallies(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> Groups:
    """Ratings given in the period, 1-5 and 0-10 apart, overall and per dimension."""
    ten = M.rating_scale == 10
    aggregates = (
        _n(~ten), func.coalesce(func.sum(case((~ten, M.rating_score), else_=0)), 0),
        _n(and_(~ten, M.rating_score >= 4)),
        _n(ten), _n(and_(ten, M.rating_score >= 9)), _n(and_(ten, M.rating_score <= 6)),
    )
    where = [M.rated_at >= start, M.rated_at < end, M.rating_score.is_not(None),
             *filters.where()]
    sums = _scans(session, aggregates, where, 6)
    return {dim: {name: Tally(rated5=int(v[0]), score5=int(v[1]), satisfied5=int(v[2]),
                              rated10=int(v[3]), promoters=int(v[4]), detractors=int(v[5]))
                  for name, v in groups.items()} for dim, groups in sums.items()}


def first_response_lists(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> Groups:
    """First public agent replies in the period: the raw minutes (medians and p90 need them;
    SQLite has no percentile aggregate), bucketed overall and per dimension in one pass."""
    q = (
        select(*_DIM_COLS, M.first_response_minutes)
        .select_from(M)
        .join(T, T.id == M.ticket_id)
        .where(M.first_response_at >= start, M.first_response_at < end,
               M.first_response_minutes.is_not(None), *filters.where())
    )
    overall: list[float] = []
    per: list[dict[Any, list[float]]] = [{} for _ in DIMS]
    for row in session.execute(q):
        minutes = row[4] or 0.0
        overall.append(minutes)
        for i in range(4):
            bucket = per[i].get(row[i])
            if bucket is None:
                per[i][row[i]] = [minutes]
            else:
                bucket.append(minutes)
    out: Groups = {"": {"": Tally(first_responses=overall)}}
    for i, dim in enumerate(DIMS):
        out[dim] = {_name(k): Tally(first_responses=v) for k, v in per[i].items()}
    return out


def tallies(session: Session, start: datetime, end: datetime, filters: Filters) -> Groups:
    """Every cohort of the period, overall (key ``""``) and per dimension value."""
    parts = (resolved_tallies(session, start, end, filters),
             rating_tallies(session, start, end, filters),
             first_response_lists(session, start, end, filters))
    out: Groups = {}
    for dim in ("", *DIMS):
        groups: dict[str, Tally] = defaultdict(Tally)
        for part in (p[dim] for p in parts):
            for name, t in part.items():
                groups[name].add(t)
        out[dim] = dict(groups)
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
