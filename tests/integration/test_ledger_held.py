"""Held tasks: the ledger lists a company's tickets waiting for credits, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

import plugin.tables  # noqa: F401  (every table on the metadata)
from plugin import ledger
from plugin.processing.state import store_ticket_state
from plugin.storage import Database
from plugin.storage.models import Company, Ticket
from rules.decision import TicketState

T0 = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)



def _ticket(s: Session, company: str, host_id: str, hours: int, **state: Any) -> None:
    t = Ticket(connection="zammad", host_ticket_id=host_id, company_id=company)
    filed = T0 + timedelta(hours=hours)
    store_ticket_state(t, TicketState(known=True, filed_at=filed, units=2, **state))
    s.add(t)


def test_held_tickets_lists_open_holds_oldest_first(db: Database) -> None:
    with db.session() as s:
        s.add_all([Company(id="acme", created_at=T0), Company(id="beta", created_at=T0)])
        s.flush()
        _ticket(s, "acme", "7", 5, held=True, status="on_hold", task_type="simple")
        _ticket(s, "acme", "3", 1, held=True, status="on_hold", task_type="medium")
        # on hold in the host for another reason: not waiting for credits
        _ticket(s, "acme", "4", 2, status="on_hold")
        # resumed already (reserved), closed while held, another company's hold
        _ticket(s, "acme", "5", 3, status="accepted", reserved_units=2)
        _ticket(s, "acme", "6", 4, held=True, status="closed", closed_at=T0 + timedelta(days=1))
        _ticket(s, "beta", "8", 0, held=True, status="on_hold")
    with db.session() as s:
        held = ledger.held_tickets(s, "acme")
        assert ledger.held_tickets(s, "nobody") == []
    assert [(h.host_ticket_id, h.task_type, h.units) for h in held] == [
        ("3", "medium", 2),
        ("7", "simple", 2),
    ]
    assert all(h.connection == "zammad" and h.filed_at is not None for h in held)
