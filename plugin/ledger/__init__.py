"""The prepaid-credit ledger: lots with expiry, append-only entries, reservations, debits.

Every function takes a SQLAlchemy session already inside a transaction and the caller's
clock; none commits. See ``service`` for the task lifecycle.
"""

from plugin.ledger.accounts import LedgerError
from plugin.ledger.expiry import expire_lots
from plugin.ledger.funds import MoneyResult, Purchase, adjust, purchase, record_money
from plugin.ledger.held import HeldTicket, held_tickets, waiting_for_credits
from plugin.ledger.plans import HOLD, OVERDRAFT, Plan, Plans, PlansError, load_plans
from plugin.ledger.queries import Balance, Notice, balance, last_entry_id, notices
from plugin.ledger.service import (
    DEBITED,
    DUPLICATE,
    HELD,
    NO_ACCOUNT,
    NOTHING,
    RELEASED,
    RESERVED,
    RETYPED,
    Result,
    complete,
    live_debit_cycle,
    release,
    reserve,
    retype,
)
from plugin.ledger.statement import Statement, statement
from plugin.ledger.totals import Credits, read_credits

__all__ = [
    "DEBITED",
    "DUPLICATE",
    "HELD",
    "HOLD",
    "HeldTicket",
    "NO_ACCOUNT",
    "NOTHING",
    "OVERDRAFT",
    "RELEASED",
    "RESERVED",
    "RETYPED",
    "Balance",
    "Credits",
    "LedgerError",
    "MoneyResult",
    "Notice",
    "Plan",
    "Plans",
    "PlansError",
    "Purchase",
    "Result",
    "Statement",
    "adjust",
    "balance",
    "complete",
    "expire_lots",
    "held_tickets",
    "last_entry_id",
    "live_debit_cycle",
    "load_plans",
    "notices",
    "purchase",
    "read_credits",
    "record_money",
    "release",
    "reserve",
    "retype",
    "statement",
    "waiting_for_credits",
]
