"""Who hears that a company's balance changed (the workers push it to the host)."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("deskpilot.ledger")

#: called with the company id after a committed change; the workers register their push job
LISTENERS: list[Callable[[str], None]] = []


def on_balance_change(listener: Callable[[str], None]) -> Callable[[str], None]:
    """Register ``listener``; usable as a decorator."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)
    return listener


def balance_changed(company_id: str) -> None:
    """Tell every listener; one failing listener never hides the change from the others."""
    for listener in list(LISTENERS):
        try:
            listener(company_id)
        except Exception:  # noqa: BLE001 - a push failure must not undo a committed purchase
            log.exception("ledger.balance-push-failed company=%s", company_id)
