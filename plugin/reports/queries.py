"""SQL aggregation of stored ticket metrics into :class:`~plugin.reports.kpis.Tally` groups.

Every cohort reads ``ticket_metrics`` alone (the ticket's dimensions are copied there) in one
scan of its covering index, grouped by the four dimensions in index order (SQLite aggregates
without sorting); the overall figures and each dimension's groups are rolled up in Python
from those groups, so a report costs a handful of scans whatever the breakdown (see
``bench/reports.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import GenericFunction

from plugin.reports.kpis import MESSAGES_FLAG, WORKING_DAY_MINUTES, WORKING_HOUR_MINUTES, Tally
from plugin.reports.models import TicketMetrics as M

DIMS = ("type", "priority", "company", "manager")
NONE = "(none)"
#: a group key: (type, priority, company, manager)
Key = tuple[str, str, str, str]
#: one group per dimension value; ``""`` holds the overall figures
Groups = dict[str, dict[str, Tally]]
#: report dimension -> the metrics column it groups by
DIM_COLUMN = {"type": M.task_type, "priority": M.priority, "company": M.company_id,
              "manager": M.manager}
#: the group-by keys, in the order of the dimension-first covering indexes
_KEYS = (M.task_type, M.priority, M.company_id, M.manager)
#: roll-up of rows keyed like ``_KEYS``: overall and each dimension
_ALL = {"": None, "type": 0, "priority": 1, "company": 2, "manager": 3}


@dataclass(frozen=True)
class Filters:
    """Restrict a report to one company and/or one support manager."""

    company: str | None = None
    manager: str | None = None

    def where(self, model: Any = M) -> list[ColumnElement[bool]]:
        """The conditions on ``model`` (metrics or tickets: both have the two columns)."""
        out: list[ColumnElement[bool]] = []
        if self.company:
            out.append(model.company_id == self.company)
        if self.manager:
            out.append(model.manager == self.manager)
        return out


@dataclass
class Cohorts:
    """Everything the period's scans produce: groups, the weekly points, breach counts."""

    groups: Groups
    weeks: list[Tally] = field(default_factory=list)
    breaches: dict[str, int] = field(default_factory=dict)


def _n(expr: ColumnElement[Any]) -> Any:
    # FILTER (both dialects): cheaper per row than SUM(CASE ...), and never NULL
    return func.count().filter(expr)


def _sum_if(value: Any, expr: ColumnElement[Any], zero: Any = 0) -> Any:
    return func.coalesce(func.sum(value).filter(expr), zero)


def group_name(value: Any) -> str:
    """A dimension value as its group's name (``(none)`` for NULL)."""
    return str(value) if value is not None else NONE


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def fetch(session: Session, stmt: Any) -> Any:
    """Every row of ``stmt``, as plain tuples."""
    # Core execution and one fetchall: the ORM layer and row-by-row fetching cost more than
    # the database itself on thousands of groups
    return session.connection().execute(stmt).all()


def _span(session: Session, col: Any, start: datetime, end: datetime) -> list[Any]:
    """``start <= col < end`` for a grouped scan. On SQLite the column is wrapped so no
    range index qualifies: reading the dimension-first covering index whole, in group
    order, beats sorting the range (a report's period holds most rows)."""
    if _sqlite(session):
        col = func.coalesce(col, col)
    return [col >= start, col < end]


class value_list(GenericFunction[Any]):
    """The group's values as one list: ``json_group_array`` on SQLite (decoded by the JSON
    type), ``array_agg`` on PostgreSQL (psycopg hands back a list)."""

    type = JSON()
    name = "json_group_array"
    identifier = "deskpilot_value_list"
    inherit_cache = True


@compiles(value_list, "postgresql")
def _array_agg(element: value_list, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(func.array_agg(*element.clauses.clauses), **kw))


def _rollup(rows: Iterable[Sequence[Any]], dims: Mapping[str, int | None], first: int,
            width: int, who: Callable[[Sequence[Any]], Any] | None = None,
            ) -> dict[str, dict[str, list[Any]]]:
    """Sum the ``width`` numbers from column ``first`` into one group per value of each
    dimension (``dims``: name -> key column, None for the overall group ``""``); the last
    slot counts the distinct ``who(row)`` of each group (0 without ``who``)."""
    buckets: dict[str, dict[str, list[Sequence[Any]]]] = {d: defaultdict(list) for d in dims}
    for row in rows:
        for dim, col in dims.items():
            buckets[dim]["" if col is None else group_name(row[col])].append(row)
    out: dict[str, dict[str, list[Any]]] = {}
    for dim, groups in buckets.items():
        out[dim] = {}
        for name, members in groups.items():
            # column sums in C (zip, sum): thousands of groups, five roll-ups each
            columns = list(zip(*members, strict=True))[first:first + width]
            acc: list[Any] = [sum(c) for c in columns]
            names = {who(m) for m in members} - {None} if who is not None else set()
            out[dim][name] = [*acc, len(names)]
    return out


def _resolved_aggregates() -> tuple[Any, ...]:
    msgs = M.messages_client + M.messages_agent
    minutes = func.coalesce(M.resolution_minutes, 0)
    paid = and_(M.task_type == "enhancement", M.estimate_hours.is_not(None))
    return (
        func.count(),
        _n(M.resolved_on_time.is_not(None)),
        func.coalesce(func.sum(M.resolved_on_time), 0),
        _n(minutes <= WORKING_DAY_MINUTES),
        _n(minutes <= WORKING_HOUR_MINUTES),
        _n(M.reopen_count == 0),
        func.coalesce(func.sum(msgs), 0),
        _n(msgs > MESSAGES_FLAG),
        _n(paid),
        _sum_if(M.estimate_hours, paid, 0.0),
        _sum_if(M.logged_minutes, paid),
        _n(and_(paid, M.logged_minutes > M.estimate_hours * 60)),
    )


def _resolved_tally(v: Sequence[Any]) -> Tally:
    return Tally(
        resolved=int(v[0]), with_deadline=int(v[1]), on_time=int(v[2]),
        within_day=int(v[3]), within_hour=int(v[4]), first_time=int(v[5]),
        messages=int(v[6]), over_messages=int(v[7]), paid=int(v[8]),
        paid_estimate_hours=float(v[9]), paid_logged_minutes=int(v[10]),
        overruns=int(v[11]), specialists=int(v[12]),
    )


def _specialist(row: Sequence[Any]) -> Any:
    # who resolved it, else the ticket's manager (columns 4 and 3 of the resolved groups)
    return row[4] if row[4] is not None else row[3]


def resolved_tallies(session: Session, start: datetime, end: datetime,
                     filters: Filters) -> Groups:
    """Tickets whose latest resolution lies in ``[start, end)``, overall and per dimension;
    ``specialists`` counts the distinct resolvers (else the manager) of each group."""
    keys = (*_KEYS, M.resolved_by)
    q = (select(*keys, *_resolved_aggregates())
         .where(*_span(session, M.resolved_at, start, end), *filters.where())
         .group_by(*keys))
    sums = _rollup(fetch(session, q), _ALL, 5, 12, who=_specialist)
    return {dim: {name: _resolved_tally(v) for name, v in g.items()} for dim, g in sums.items()}


def _week_index(col: Any, bounds: Sequence[datetime]) -> Any:
    """Which of the weeks ``[bounds[i], bounds[i+1])`` holds ``col``; -1 outside them all."""
    if len(bounds) < 2:
        return literal(-1)
    whens = [(col < bounds[0], -1)] + [(col < b, i) for i, b in enumerate(bounds[1:])]
    return case(*whens, else_=-1)


def weekly_tallies(session: Session, bounds: Sequence[datetime],
                   filters: Filters) -> list[Tally]:
    """The overall resolution tally of each week ``[bounds[i], bounds[i+1])`` (the trend),
    in one range scan of the narrow resolved index grouped by week."""
    if len(bounds) < 2:
        return []
    week = _week_index(M.resolved_at, bounds)
    q = (select(week, func.count(), _n(M.resolved_on_time.is_not(None)),
                func.coalesce(func.sum(M.resolved_on_time), 0),
                _n(func.coalesce(M.resolution_minutes, 0) <= WORKING_DAY_MINUTES),
                _n(M.reopen_count == 0))
         .where(M.resolved_at >= bounds[0], M.resolved_at < bounds[-1], *filters.where())
         .group_by(week))
    found = {int(r[0]): r for r in fetch(session, q)}
    out = []
    for i in range(len(bounds) - 1):
        r = found.get(i)
        out.append(Tally() if r is None else Tally(
            resolved=int(r[1]), with_deadline=int(r[2]), on_time=int(r[3]),
            within_day=int(r[4]), first_time=int(r[5])))
    return out


def rating_tallies(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> Groups:
    """Ratings given in the period, 1-5 and 0-10 apart, overall and per dimension."""
    ten = M.rating_scale == 10
    aggs = (
        _n(~ten), _sum_if(M.rating_score, ~ten),
        _n(and_(~ten, M.rating_score >= 4)),
        _n(ten), _n(and_(ten, M.rating_score >= 9)), _n(and_(ten, M.rating_score <= 6)),
    )
    q = (select(*_KEYS, *aggs)
         .where(*_span(session, M.rated_at, start, end), M.rating_score.is_not(None),
                *filters.where())
         .group_by(*_KEYS))
    sums = _rollup(fetch(session, q), _ALL, 4, 6)
    return {dim: {name: Tally(rated5=int(v[0]), score5=int(v[1]), satisfied5=int(v[2]),
                              rated10=int(v[3]), promoters=int(v[4]), detractors=int(v[5]))
                  for name, v in groups.items()} for dim, groups in sums.items()}


def first_response_lists(
    session: Session, start: datetime, end: datetime, filters: Filters
) -> tuple[Groups, int]:
    """First public agent replies in the period: the raw minutes (medians and p90 need them;
    SQLite has no percentile aggregate) as one JSON array per group, bucketed overall and
    per dimension; and how many of them missed their deadline."""
    q = (select(*_KEYS, value_list(M.first_response_minutes),
                func.coalesce(func.sum(M.first_response_breached), 0))
         .where(*_span(session, M.first_response_at, start, end), *filters.where())
         .group_by(*_KEYS))
    lists: dict[str, dict[str, list[float]]] = {dim: defaultdict(list) for dim in _ALL}
    breached = 0
    for row in fetch(session, q):
        breached += int(row[5])
        minutes = row[4] or []
        if None in minutes:
            minutes = [m for m in minutes if m is not None]
        # sorted runs: the per-dimension lists then sort in near-linear time (timsort merges
        # runs), and the median and p90 need them sorted
        minutes.sort()
        for dim, col in _ALL.items():
            lists[dim]["" if col is None else group_name(row[col])].extend(minutes)
    out: Groups = {dim: {name: Tally(first_responses=v) for name, v in groups.items()}
                   for dim, groups in lists.items()}
    out[""].setdefault("", Tally())
    return out, breached


def accept_breaches(session: Session, start: datetime, end: datetime,
                    filters: Filters) -> int:
    q = select(func.count()).where(M.accepted_at >= start, M.accepted_at < end,
                                   M.accept_breached == 1, *filters.where())
    return int(fetch(session, q)[0][0])


def cohorts(session: Session, start: datetime, end: datetime, filters: Filters,
            weeks: Sequence[datetime] = ()) -> Cohorts:
    """Every cohort of the period, overall (key ``""``) and per dimension value, the trend's
    weekly tallies (``weeks`` are their bounds) and the missed deadlines by kind."""
    resolved = resolved_tallies(session, start, end, filters)
    points = weekly_tallies(session, weeks, filters)
    responses, late_replies = first_response_lists(session, start, end, filters)
    parts = (resolved, rating_tallies(session, start, end, filters), responses)
    out: Groups = {}
    for dim in ("", *DIMS):
        groups: dict[str, Tally] = defaultdict(Tally)
        for part in (p.get(dim, {}) for p in parts):
            for name, t in part.items():
                groups[name].add(t)
        out[dim] = dict(groups)
    overall = resolved.get("", {}).get("", Tally())
    breaches = {
        "accept": accept_breaches(session, start, end, filters),
        "first_response": late_replies,
        "resolve": overall.with_deadline - overall.on_time,
    }
    return Cohorts(out, points, breaches)
