"""Carry out a :class:`~rules.decision.Decision` inside the caller's transaction.

Ticket state, cap slot, ledger entries, outbox rows and timers are written through the one
session the caller opened, so either all of them commit or none does. Nothing here commits
or reads the clock: the caller passes ``now`` and enqueues its ticket's pushes after commit
(the balance rows written on the company's other open tickets enqueue their own).

``rules replay --apply`` carries out its corrections with the same pieces
(:func:`run_credit_ops`, :func:`commands_for`, :func:`arm_timers`, :func:`write_ticket`;
its balance push is :func:`plugin.processing.balance.queue_balance_push`, once per company
per replay: :mod:`plugin.rules_replay_apply`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin import ledger
from plugin.ledger.totals import Credits, read_credits
from plugin.outbox.commands import ADD_NOTE, DEADLINE_KEYS, DEFERRED_TO, Command, CommandError
from plugin.outbox.push import CLAIM_TTL, Batch
from plugin.outbox.rows import add_commands, row_key
from plugin.processing.models import TimerKind
from plugin.processing.state import encode_ticket_state, mirror_state, set_slot
from plugin.processing.tickets import is_new, take_snapshot
from plugin.processing.timers import arm_ticket_timers
from plugin.reports.metrics import count_debits
from plugin.storage.models import Ticket
from plugin.team_texts import team_text
from rules.config.model import RuleSet
from rules.decision import Action, CreditKind, CreditOp, Decision, State, TicketState, iso
from rules.engine import with_state
from rules.lifecycle import GONE

log = logging.getLogger("deskpilot.jobs")


@dataclass
class Applied:
    """What applying one decision wrote."""

    #: ids of the outbox rows written (none when the same source was applied before)
    outbox: list[int] = field(default_factory=list)
    #: the rows, inserted already claimed for one push (``claim_at`` given)
    claimed: Batch | None = None
    ledger: list[str] = field(default_factory=list)
    balance_changed: bool = False
    skipped_actions: list[str] = field(default_factory=list)


def ticket_key(ticket: Ticket) -> str:
    """The ledger's ticket key: unique across connections."""
    return f"{ticket.connection}:{ticket.host_ticket_id}"


def command_for(action: Action, rules: RuleSet | None = None) -> Command | None:
    """The host command an engine action becomes (None: not a host write); ``rules`` give
    a time log the comment hosts show with it, in the team's language."""
    p = dict(action.params)
    if action.type == "add_note":
        body = p.get("text") or p.get("body") or ""
        if not body:
            return None  # a template that rendered empty has nothing to say
        return Command.add_note(body, p.get("visibility", "internal"))
    if action.type == "notify":
        return notify_note(p)
    if action.type == "set_status":
        return Command.set_status(p["status"])
    if action.type == "set_deadlines":
        due = {k: iso(p.get(k)) for k in DEADLINE_KEYS}
        if p.get(DEFERRED_TO) is not None:
            # the deferral date travels with the deadlines (hosts map it to a field)
            due[DEFERRED_TO] = iso(p[DEFERRED_TO])
        return Command.set_deadlines(**due)
    if action.type == "set_fields":
        return Command.set_fields(**dict(p.get("fields") or {}))
    if action.type == "assign":
        agent = p.get("agent") or p.get("agent_id")
        return Command.assign(str(agent)) if agent else None
    if action.type == "log_time":
        minutes, note = int(p["minutes"]), p.get("note")
        comment = None if rules is None else (
            team_text(rules, "time_logged_note", minutes=minutes, note=note) if note
            else team_text(rules, "time_logged", minutes=minutes))
        return Command.log_time(minutes, note, p.get("agent_id"), comment)
    return None


def notify_note(params: dict[str, Any]) -> Command | None:
    """A ``notify`` (escalation, breach warning) as an internal note on the ticket.

    Hosts have no "message this person" call the outbox could carry, but every host shows
    internal notes to the team on the ticket itself, naming who should act.
    """
    text = params.get("text") or params.get("body") or ""
    if not text:
        return None
    to = params.get("to") or "admins"
    log.info("jobs.notify to=%s template=%s", to, params.get("template"))
    return Command.add_note(f"[{to}] {text}", "internal")


def run_credit_ops(session: Session, ticket: Ticket, decision: Decision, now: datetime,
                   applied: Applied, *, key_prefix: str | None = None) -> None:
    """Execute the decision's credit operations on the ledger (idempotent by key).

    The ledger key of an op is ``key_prefix + op.key``; the prefix is the connection name
    (``<connection>:``) unless the caller's ops carry complete keys (replay's corrections:
    ``key_prefix=""``, see :mod:`plugin.rules_replay`).
    """
    company = ticket.company_id
    if company is None or not decision.credit_ops:
        return
    prefix = f"{ticket.connection}:" if key_prefix is None else key_prefix
    tkey, ops = ticket_key(ticket), list(decision.credit_ops)
    is_bug = decision.task_type == "bug"
    i = 0
    while i < len(ops):
        op = ops[i]
        nxt: CreditOp | None = ops[i + 1] if i + 1 < len(ops) else None
        result: Any
        if op.kind == CreditKind.REVERSE:
            # reversal + the new cycle's debit: the ledger's retype does both, exactly once
            new_units = nxt.units if nxt and nxt.kind == CreditKind.DEBIT else 0
            top = op.reverses_cycle if op.reverses_cycle is not None else decision.cycle
            live = ledger.live_debit_cycle(session, company, tkey, top)
            cycle = top if live is None else live
            result = ledger.retype(session, company, tkey, cycle, new_units, now,
                                   policy=ledger.OVERDRAFT, task_type=decision.task_type,
                                   key=f"{prefix}{op.key}")
            i += 2 if nxt and nxt.kind == CreditKind.DEBIT else 1
        elif (op.kind == CreditKind.RELEASE and nxt is not None
              and nxt.kind == CreditKind.RESERVE and ":release:" in op.key):
            # re-typed before completion: swap the reservation in one ledger call
            result = ledger.retype(session, company, tkey, decision.cycle, nxt.units, now,
                                   policy=ledger.OVERDRAFT, task_type=decision.task_type,
                                   key=f"{prefix}{nxt.key}")
            i += 2
        else:
            result = _single(session, ledger, company, tkey, prefix, op, decision, now, is_bug)
            i += 1
        status = getattr(result, "status", "money")
        count_debits(session, company, result)
        applied.ledger.append(f"{op.kind}:{status}")
        if getattr(result, "changed", False):
            applied.balance_changed = True


def _single(session: Session, ledger: Any, company: str, tkey: str, prefix: str,
            op: CreditOp, decision: Decision, now: datetime, is_bug: bool) -> Any:
    cycle = decision.cycle
    if op.kind == CreditKind.RESERVE:
        # the engine already applied the hold policy to the credits it was shown: the ledger
        # must not refuse what it decided, so a shortfall posts as flagged overdraft
        return ledger.reserve(session, company, tkey, cycle, op.units, now,
                              policy=ledger.OVERDRAFT, is_bug=is_bug,
                              task_type=decision.task_type)
    if op.kind == CreditKind.DEBIT:
        return ledger.complete(session, company, tkey, cycle, op.units, now,
                               task_type=decision.task_type)
    if op.kind == CreditKind.RELEASE:
        return ledger.release(session, company, tkey, cycle, now, op.reason or "released")
    if op.kind == CreditKind.MONEY and op.money is not None:
        return ledger.record_money(session, company, tkey, op.money.amount, op.money.currency,
                                   now, op.reason or "money", key=f"{prefix}{op.key}")
    log.warning("jobs.credit-op-unknown kind=%s key=%s", op.kind, op.key)
    return None


def balance_command(session: Session, company_id: str, now: datetime) -> Command:
    bal = read_credits(session, company_id, now)
    return Command.set_balance(company_id, bal.balance, bal.reserved, bal.available)


def commands_for(decision: Decision, applied: Applied,
                 rules: RuleSet | None = None) -> list[Command]:
    out: list[Command] = []
    for action in decision.actions:
        try:
            cmd = command_for(action, rules)
        except (CommandError, KeyError, ValueError, TypeError) as exc:
            # a malformed action must not block the ticket's state and credits
            log.warning("jobs.action-skipped type=%s error=%s", action.type, exc)
            applied.skipped_actions.append(action.type)
            continue
        if cmd is None:
            continue
        if action.type == "notify" and any(_same_note(cmd, c) for c in out):
            continue  # the automation also wrote the same text as an internal note
        out.append(cmd)
    return out


def _same_note(notify: Command, other: Command) -> bool:
    return other.type == ADD_NOTE and other.data["visibility"] == "internal" \
        and str(notify.data["body"]).endswith(str(other.data["body"]))


def _balance_after(session: Session, ticket: Ticket, applied: Applied, before: Credits | None,
                   now: datetime) -> Command | None:
    # read once after the ledger ran; unchanged figures are not pushed again
    if not applied.balance_changed or ticket.company_id is None:
        return None
    after = read_credits(session, ticket.company_id, now)
    if before is not None and (before.balance, before.reserved) == (after.balance,
                                                                     after.reserved):
        return None
    return Command.set_balance(ticket.company_id, after.balance, after.reserved,
                               after.available)


def _spread(session: Session, ticket: Ticket, bal: Command, source_key: str,
            now: datetime) -> None:
    """The new balance on the company's other open tickets too (issue 15,
    :mod:`plugin.processing.balance_spread`); their pushes are enqueued after commit (the outbox
    sweep delivers them when Redis is away)."""
    from plugin.outbox.rows import enqueue_after_commit
    from plugin.processing.balance_spread import running_context, spread_balance

    assert ticket.company_id is not None
    ctx = running_context()
    if ctx is None:
        return
    touched = spread_balance(session, ctx.settings, ticket.company_id, bal,
                             f"{source_key}:balance", now,
                             skip=[(ticket.connection, ticket.host_ticket_id)])
    if touched and ctx.redis_url:
        enqueue_after_commit(session, lambda: ctx.redis, touched, salt=f"b{ticket.id}")


def _balance_elsewhere(session: Session, company: str, source_key: str, now: datetime) -> None:
    """The company's new balance after one of its tickets was deleted: on its latest other
    ticket of each connection and its open ones
    (:func:`plugin.processing.balance_spread.push_to_company`), pushed after commit."""
    from plugin.outbox.rows import enqueue_after_commit
    from plugin.processing.balance_spread import push_to_company, running_context

    touched = push_to_company(session, company, balance_command(session, company, now),
                              f"{source_key}:balance", now)
    ctx = running_context()
    if touched and ctx is not None and ctx.redis_url:
        enqueue_after_commit(session, lambda: ctx.redis, touched, salt=f"g{company}")


def write_ticket(ticket: Ticket, decision: Decision, new: TicketState,
                 facts: dict[str, Any]) -> None:
    """The ticket row after ``decision``: ``new`` state into ``facts`` (the caller's copy,
    with whatever else it adds) and the queryable columns, classification, deadlines."""
    facts["state"] = encode_ticket_state(new)
    ticket.facts = facts
    mirror_state(ticket, new)
    ticket.task_type, ticket.units = decision.task_type, decision.units
    ticket.rules_version = decision.rules_version or ticket.rules_version
    ticket.manager = decision.manager or ticket.manager
    ticket.calendar = decision.calendar or ticket.calendar
    for name in ("accept_due", "first_response_due", "resolve_due", "deferred_to"):
        setattr(ticket, name, getattr(decision, name))


def arm_timers(session: Session, ticket: Ticket, new: TicketState, rules: RuleSet,
               now: datetime, facts: dict[str, Any]) -> None:
    """Bring the ticket's timer rows in line with ``new``, its state after a decision (arm
    the wanted ones at their instants, cancel the rest: :func:`arm_ticket_timers`), and
    keep what was armed in ``facts`` (the caller's copy of the ticket's facts, as read
    before the decision), which :func:`write_ticket` then stores."""
    # a ticket never applied before (empty facts) has no timer rows yet
    known = facts.get("timers") if facts else dict.fromkeys(TimerKind.ALL)
    facts["timers"] = arm_ticket_timers(session, ticket, new, rules, now, known=known,
                                        rows_exist=not is_new(session, ticket))


def apply_decision(
    session: Session, ticket: Ticket, decision: Decision, state: State, rules: RuleSet, *,
    source_key: str, now: datetime, extra_commands: Iterable[Command] = (),
    snapshot: Any = None, credits: Credits | None = None, claim_at: datetime | None = None,
) -> Applied:
    """Write ``decision`` for ``ticket``: ledger, outbox rows, timers, state, slot.

    ``source_key`` names what caused it (``event:<id>``, ``timer:<id>:<due>``) and keys the
    outbox rows, so re-applying the same source writes no second set of commands.
    ``snapshot`` (the event, when not late) is stored with the state; ``credits`` are the
    company's credits read before the rules ran (a balance push is skipped when equal).
    The ticket row is written last, so the transaction updates it once. ``claim_at``: the
    caller knows the ticket has no other open outbox rows and will push these itself after
    commit (an inline push): they are inserted already claimed, as ``applied.claimed``.
    """
    applied = Applied()
    after = with_state(decision, state)
    new_ticket = dataclasses.replace(after.ticket, known=True)
    if decision.credit_ops:
        run_credit_ops(session, ticket, decision, now, applied)
    commands = [*commands_for(decision, applied, rules), *extra_commands]
    bal = _balance_after(session, ticket, applied, credits, now)
    gone = new_ticket.status == GONE
    if gone:
        # the host deleted the ticket: nothing can be written to it any more (a write would
        # only come back 404); the company's new balance goes to its other tickets (below,
        # once the row says it is gone)
        commands = []
    elif bal is not None:
        commands.append(bal)
        _spread(session, ticket, bal, source_key, now)
    claim = None if claim_at is None else (
        f"{ticket.connection}:{ticket.host_ticket_id}:{source_key}"[:255],
        claim_at + CLAIM_TTL)
    applied.outbox = add_commands(session, ticket.connection, ticket.host_ticket_id, commands,
                                  source_key, now, company_id=ticket.company_id, claim=claim)
    if claim is not None and applied.outbox:
        # a source is applied once (its rows commit with the event's mark), so either every
        # row is new or none is; a partial insert is left to the sweeper once its claim ends
        if len(applied.outbox) == len(commands):
            applied.claimed = Batch(
                ids=tuple(sorted(applied.outbox)), key=claim[0], commands=tuple(commands),
                company=ticket.company_id, attempts=1, done=(),
                starts=tuple((row_key(source_key, n), now) for n in range(len(commands))))
    facts = dict(ticket.facts or {})
    arm_timers(session, ticket, new_ticket, rules, now, facts)
    if snapshot is not None:
        facts["snapshot"] = take_snapshot(session, ticket, snapshot)
    write_ticket(ticket, decision, new_ticket, facts)
    if gone and bal is not None and ticket.company_id is not None:
        session.flush()
        _balance_elsewhere(session, ticket.company_id, source_key, now)
    cf = decision.company_facts
    if "take_slot" in cf:
        set_slot(session, ticket, ticket.company_id, cf["take_slot"])
    elif "free_slot" in cf:
        set_slot(session, ticket, ticket.company_id, None)
    return applied
