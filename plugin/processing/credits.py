"""What the processing job reads about a company before the rules run, in one round trip.

The company's own row, its credits (the ledger's
:func:`~plugin.ledger.totals.credits_statement`, as a subquery) and its cap slots per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.orm import Session

from plugin.ledger.totals import Credits, credits_from_row, credits_statement
from plugin.processing.models import CapSlot
from plugin.storage.models import Company


@dataclass(frozen=True)
class CompanyFacts:
    """What the rules read about a company: its row, credits and cap slots per day."""

    known: bool
    manager: str | None
    calendar: str | None
    plan: str | None
    credits: Credits
    #: tasks per working day (from ``since`` on) whose clocks start that day
    started_by_day: dict[date, int]


@cache
def _company_statement() -> Any:
    # the credits as a one-row subquery, the company's row joined to it (absent: NULLs) and
    # the cap slots per day folded into one string ("2026-11-23:2,2026-11-24:1")
    company: Any = bindparam("company")
    per_day = (select(CapSlot.day, func.count().label("n"))
               .where(CapSlot.company_id == company, CapSlot.day >= bindparam("since"))
               .group_by(CapSlot.day).subquery())
    slots = select(func.aggregate_strings(
        cast(per_day.c.day, String) + ":" + cast(per_day.c.n, String), ",")).scalar_subquery()
    credits = credits_statement().add_columns(slots.label("slots")).subquery()
    return (select(credits, Company.id, Company.manager, Company.calendar, Company.plan)
            .select_from(credits).outerjoin(Company, Company.id == company))


def _slots(raw: str | None) -> dict[date, int]:
    out: dict[date, int] = {}
    for item in (raw or "").split(","):
        if item:
            day, n = item.rsplit(":", 1)
            out[date.fromisoformat(day)] = int(n)
    return out


def read_company(session: Session, company_id: str, at: datetime, since: date) -> CompanyFacts:
    """The company's row, credits as of ``at`` and cap slots from ``since`` on (one round
    trip: the processing job reads them before every decision)."""
    *credits, slots, known, manager, calendar, plan = session.execute(
        _company_statement(), {"company": company_id, "at": at, "since": since}).one()
    return CompanyFacts(known=known is not None, manager=manager, calendar=calendar, plan=plan,
                        credits=credits_from_row(*credits), started_by_day=_slots(slots))
