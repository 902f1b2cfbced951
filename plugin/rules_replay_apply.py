"""``rules replay --apply``: each change a replay found, carried out as the processing
carries out a decision (:mod:`plugin.processing.apply`), so the host, the ledger and the
timers end where a worker on the new rules would have left them.

Per ticket, one transaction, the ticket row locked as a worker locks it
(:func:`~plugin.processing.tickets.lock_ticket`): the :func:`correction` decision's ledger
ops re-type the charge (:func:`~plugin.processing.apply.run_credit_ops`: a reversal plus a
new entry, never an edit), its ``set_fields`` / ``set_deadlines`` are queued for the host,
the ticket's timers are re-armed from the corrected deadlines and state and the obsolete
ones cancelled (:func:`~plugin.processing.apply.arm_timers`), and the ticket state and
columns written (:func:`~plugin.processing.apply.write_ticket`).

Per company whose ledger the corrections moved, the new balance is queued once
(:func:`plugin.processing.balance.queue_balance_push`, as after a purchase: its latest
ticket of each connection, the corrected tickets, the open tickets of connections showing
the balance on tickets), in the transaction of the company's last change: no re-type
commits without its push. (Should that change fail or not be stored, the push gets a
transaction of its own after the others.)

Idempotent: the ledger and outbox keys carry the rules version and the ticket, the balance
key the company's newest ledger entry (a later replay that moves the ledger again pushes
its own balance), and timers are armed from the state: a second ``--apply`` writes nothing
new. The rows wait for the scheduler's outbox sweep (the CLI enqueues no push job).

Timers follow the processing's rule: a breach warning already given for a deadline
(``warned``) is not given again when the correction moves that deadline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin import ledger
from plugin.outbox.rows import add_commands
from plugin.processing.apply import (
    Applied,
    arm_timers,
    commands_for,
    run_credit_ops,
    ticket_key,
    write_ticket,
)
from plugin.processing.balance import queue_balance_push
from plugin.processing.state import ticket_state
from plugin.processing.tickets import lock_ticket
from plugin.rules_replay import DEADLINES, Change, charged
from plugin.settings import Settings
from plugin.storage import Database, Ticket
from rules.config.model import RuleSet
from rules.decision import Action, CreditKind, CreditOp, Decision, TicketState, updated


def _version(d: Decision) -> str:
    """The rules version as replay's keys carry it."""
    return d.rules_version.removeprefix("sha256:")[:12]


def correction(
    ch: Change,
    stored: TicketState,
    company: str | None,
    tkey: str,
    cycle: int | None,
    version: str,
) -> Decision:
    """What applying ``ch`` means, as a :class:`~rules.decision.Decision` the processing's
    apply code carries out (:mod:`plugin.processing.apply`): its credit ops re-type the
    charge (REVERSE + DEBIT once completed, RELEASE + RESERVE before), its actions are the
    host's ``set_fields`` / ``set_deadlines``, its ticket facts the corrected state.

    ``company``: the ticket's (none: nothing charged); ``cycle``: the ledger cycle holding
    the charge (None: nothing charged). The ops carry complete ledger keys
    (``replay:<version>:<ticket>:<cycle>``, applied with ``key_prefix=""``): the keys
    replay always wrote, so an earlier ``--apply`` is recognised.
    """
    d = ch.decision
    units = charged(ch.state)
    credit: dict[str, Any] = {}
    ops: tuple[CreditOp, ...] = ()
    retype = cycle is not None and bool({"credits", "task_type"} & set(ch.diff))
    key = f"replay:{version}:{tkey}:{cycle}"
    if company and stored.debited_type is not None:
        credit = {"debited_units": units, "debited_type": d.task_type}
        if retype:
            ops = (
                CreditOp(CreditKind.REVERSE, key=key, reason="re-typed", reverses_cycle=cycle),
                CreditOp(CreditKind.DEBIT, units, key=key, reason="re-typed"),
            )
    elif company and stored.reserved_units:
        credit = {"reserved_units": units}
        if retype:
            ops = (
                # the ":release:" shape marks a re-type's swap (as in rules.credits)
                CreditOp(CreditKind.RELEASE, key=f"{key}:release:replay", reason="re-typed"),
                CreditOp(CreditKind.RESERVE, units, key=key, reason="re-typed"),
            )
    due = {name: getattr(d, name) for name in DEADLINES}
    return Decision(
        ticket_id=ch.ticket_id,
        task_type=d.task_type,
        units=d.units,
        rule=d.rule,
        calendar=d.calendar,
        **due,
        cycle=stored.cycle,
        credit_ops=ops,
        actions=(
            Action("set_fields", {"fields": {"task_type": d.task_type, "units": d.units}}),
            Action("set_deadlines", due),
        ),
        ticket_facts={
            "task_type": d.task_type,
            "units": d.units,
            "rule": d.rule,
            "calendar": d.calendar,
            **due,
            **credit,
            # the replayed deadlines' own key: workers on other rules recompute them
            "facts": {**stored.facts, "deadline_key": ch.state.facts.get("deadline_key", "")},
        },
        rules_version=d.rules_version,
    )


def apply_changes(db: Database, changes: list[Change], now: datetime, *, rules: RuleSet,
                  settings: Settings) -> list[str]:
    """Write ``changes`` (found with ``rules``) as corrections: per ticket, in one
    transaction, the ledger re-type, host commands, timers, ticket state and columns; per
    company whose ledger moved, one balance push (see the module's docstring).

    ``settings``: the connections (which show the balance on tickets). Returns one line per
    ticket saying what was done.
    """
    last = {ch.company_id: n for n, ch in enumerate(changes) if ch.company_id}
    #: company -> its tickets whose correction moved its ledger (this run)
    moved: dict[str, list[tuple[str, str]]] = {}
    pushed: set[str] = set()
    done: list[str] = []
    try:
        for n, ch in enumerate(changes):
            with db.session() as s:
                row = lock_ticket(s, ch.connection, ch.ticket_id)
                if row is None:
                    done.append(f"{ch.connection}/{ch.ticket_id}: not stored yet, skipped")
                    continue
                what = _correct(s, row, ch, now, rules, moved)
                company = row.company_id
                if company in moved and last.get(company) == n:
                    what += _push_balance(s, company, moved, _version(ch.decision), now,
                                          settings)
                    pushed.add(company)
            done.append(f"{ch.connection}/{ch.ticket_id}: {what}")
    finally:
        # a company whose last change failed, was skipped or changed company meanwhile
        for company in sorted(moved.keys() - pushed):
            with db.session() as s:
                what = _push_balance(s, company, moved, _version(changes[0].decision), now,
                                     settings)
            done.append(f"company {company}: {what.removeprefix(', ')}")
    return done


def _correct(s: Session, row: Ticket, ch: Change, now: datetime, rules: RuleSet,
             moved: dict[str, list[tuple[str, str]]]) -> str:
    """Carry out ``ch`` on the locked ``row``; note its company in ``moved`` when the
    ledger moved. Returns what was done."""
    stored = ticket_state(row)
    tkey, version = ticket_key(row), _version(ch.decision)
    cycle: int | None = None
    if row.company_id and stored.debited_type is not None:
        cycle = ledger.live_debit_cycle(s, row.company_id, tkey, stored.cycle)
    elif row.company_id and stored.reserved_units:
        cycle = stored.cycle
    fix = correction(ch, stored, row.company_id, tkey, cycle, version)
    applied = Applied()
    run_credit_ops(s, row, fix, now, applied, key_prefix="")
    if applied.balance_changed and row.company_id:
        moved.setdefault(row.company_id, []).append((row.connection, row.host_ticket_id))
    what = "state" + "".join(f", ledger {op.split(':', 1)[1]}" for op in applied.ledger[:1])
    rows = add_commands(s, row.connection, row.host_ticket_id, commands_for(fix, applied, rules),
                        f"replay:{version}:{row.id}", now, company_id=row.company_id)
    what += f", {len(rows)} host command(s) queued"
    new = updated(stored, fix.ticket_facts)
    facts = dict(row.facts or {})
    armed = facts.get("timers")
    arm_timers(s, row, new, rules, now, facts)
    if facts["timers"] != armed:
        what += ", timers re-armed"
    write_ticket(row, fix, new, facts)
    return what


def _push_balance(s: Session, company: str, moved: dict[str, list[tuple[str, str]]],
                  version: str, now: datetime, settings: Settings) -> str:
    # keyed by the ledger's state: the same balance is never queued twice, and a later
    # replay on the same rules that moves the ledger again pushes its own
    key = f"replay:{version}:balance:{company}:{ledger.last_entry_id(s, company)}"
    touched = queue_balance_push(s, company, now, key, also=moved[company], settings=settings)
    return f", balance of {company} queued on {len(touched)} ticket(s)"
