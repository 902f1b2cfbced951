"""The dashboard's "needs attention now" lines (issue 17): open tasks the team must act on.

Each line names why: a breach warning was given (a deadline is near or passed), acceptance
is overdue, the company's credits don't cover the task (it will be, or is, on hold), or a
completed task's debit waits for credits. These are the same facts the rules keep on the
ticket, so the dashboard shows what the internal notes on the tickets say, once per task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from plugin.reports.models import OPEN_WHERE
from plugin.storage.models import Ticket as T

#: open tickets read per dashboard view (newest first): a team's open queue is far smaller
SCAN = 2000

REASONS = {
    "breach_warning": "deadline near or passed ({deadlines})",
    "acceptance_overdue": "not accepted in time",
    "on_hold": "on hold: credits do not cover it",
    "credits_short": "credits do not cover it: will be held at acceptance",
    "debit_pending": "resolved while on hold: debit pending until credits arrive",
}


def reasons(state: dict[str, Any]) -> list[str]:
    """Why a ticket with this stored state needs the team now (empty: it does not)."""
    out: list[str] = []
    warned = state.get("warned") or []
    if warned:
        out.append(REASONS["breach_warning"].format(deadlines=", ".join(warned)))
    if state.get("escalated") and not state.get("accepted_at"):
        out.append(REASONS["acceptance_overdue"])
    if state.get("held"):
        out.append(REASONS["on_hold"])
    elif state.get("short_noticed") and not state.get("accepted_at"):
        out.append(REASONS["credits_short"])
    if state.get("debit_pending"):
        out.append(REASONS["debit_pending"])
    return out


def attention_list(session: Session, now: datetime, company: str | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
    """Open tickets needing the team, most urgent deadline first."""
    q = select(T.connection, T.host_ticket_id, T.subject, T.company_id, T.manager,
               T.resolve_due, T.accept_due, T.facts).where(text(OPEN_WHERE))
    if company:
        q = q.where(T.company_id == company)
    rows = session.execute(q.order_by(T.id.desc()).limit(SCAN)).all()
    out: list[dict[str, Any]] = []
    for conn, host_id, subject, cid, manager, resolve_due, accept_due, facts in rows:
        why = reasons((facts or {}).get("state") or {})
        if not why:
            continue
        due = resolve_due or accept_due
        out.append({"connection": conn, "ticket_id": host_id, "subject": subject,
                    "company": cid, "manager": manager,
                    "due": due.isoformat() if due else None, "reasons": why})
    out.sort(key=lambda item: (item["due"] is None, item["due"] or ""))
    return out[:limit]
