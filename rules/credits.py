"""Credit operations of SPEC §3: reserve at acceptance, debit at completion, release, re-type.

Keys are ``<ticket>:<cycle>:<op>``: a retried webhook yields the same keys, so the ledger
never applies an operation twice; a re-typed completed task bumps the cycle (reversal
plus a new debit). A reopened-then-resolved task is not charged again: the state says
it was debited.
"""

from __future__ import annotations

from decimal import Decimal

from rules.config.model import Plan, TypeSpec
from rules.decision import CreditKind, CreditOp, Money, TicketState
from rules.work import Work


def money_for(spec: TypeSpec, estimate: float | None) -> Money | None:
    if spec.money_rate is None or not estimate:
        return None
    amount = (Decimal(str(estimate)) * Decimal(spec.money_rate)).quantize(Decimal("0.01"))
    return Money(
        amount.normalize() if amount == amount.to_integral() else amount,
        spec.money_currency or "USD",
    )


def settle(w: Work, st: TicketState, t: dict[str, bool]) -> None:
    """Append the credit operations for this event to ``w.ops``; update facts and flags."""
    r, f, run = w.rules, w.facts, w.run
    spec = r.types[w.task_type]
    company = w.ctx.state.company
    tid = w.ctx.event.ticket.id
    cycle = st.cycle
    units = w.units if spec.credits is None else spec.credits
    w.money = money_for(spec, f.get("estimate_hours", st.estimate_hours))
    f.update(
        cycle=cycle,
        reserved_units=st.reserved_units,
        debited_units=st.debited_units,
        debited_type=st.debited_type,
        held=st.held,
        debit_pending=st.debit_pending,
        short_noticed=st.short_noticed,
    )
    if not company.known:
        run.flag(r.no_account_flag)
        if t["filed"] and r.no_account_template:
            run.emit_template("add_note", r.no_account_template, visibility="internal")
        return
    ops = w.ops
    plan = r.plan(company.plan)
    if st.debit_pending:
        _take_pending(w, st, tid, cycle)
        return
    if st.held and (t["resolved"] or t["closed"]) and not t["released"]:
        _held_done(w, t, tid, cycle, units, plan)
        return
    if st.debited_type is not None:  # completed in this cycle already
        if (st.debited_type, st.debited_units) != (w.task_type, units):
            old = f"{tid}:{cycle}:debit"
            if st.debited_units:
                ops.append(
                    CreditOp(
                        CreditKind.REVERSE,
                        st.debited_units,
                        key=f"{tid}:{cycle}:reverse",
                        reverses=old,
                        reverses_cycle=cycle,
                        reason=f"re-typed from {st.debited_type}",
                    )
                )
            cycle += 1
            _debit(w, tid, cycle, units, f"re-typed to {w.task_type}")
            f.update(cycle=cycle, debited_units=units, debited_type=w.task_type)
            t["retyped"] = True
        return
    if t["released"]:
        if st.reserved_units:
            ops.append(
                CreditOp(
                    CreditKind.RELEASE,
                    st.reserved_units,
                    key=f"{tid}:{cycle}:release",
                    reason=w.ctx.event.event,
                )
            )
        f.update(reserved_units=0, held=False)
        return
    holds = not spec.never_hold and plan.on_insufficient == "hold"
    if t["filed"] and not t["accepted"] and units > 0 and holds \
            and company.credits_available < units:
        # SPEC §3 / issue 17: tell the team (and the client) at filing, before anyone answers,
        # that the task will be held at acceptance and why
        run.flag("credits_short")
        w.timer_triggers.add("credits_short")
        f["short_noticed"] = True
    if (t["accepted"] or (st.held and not t["closed"])) and units > 0:
        short = company.credits_available < units
        if short and holds:
            if t["resolved"] or t["closed"]:
                # accepted and done in one step while short: resolved anyway, never held
                # (one event never says both "on hold" and "done")
                _held_done(w, t, tid, cycle, units, plan)
                return
            if not st.held:
                t["held"] = True
                f.update(held=True, status="on_hold")
                run.flag("held")
        else:
            if short:
                run.flag("overdraft")
            ops.append(
                CreditOp(CreditKind.RESERVE, units, key=f"{tid}:{cycle}:reserve", reason="accepted")
            )
            f.update(reserved_units=units, held=False)
            if st.held:
                f["status"] = r.accept_status
                run.flag("resumed")
            if company.credits_available - units <= plan.low_balance:
                run.flag("low_balance")
                w.timer_triggers.add("low_balance")
    elif st.reserved_units and st.reserved_units != units and not (t["resolved"] or t["closed"]):
        # re-typed before completion: move the reservation (keyed by the event: retries repeat)
        key = w.ctx.event.delivery_key
        ops.append(
            CreditOp(
                CreditKind.RELEASE,
                st.reserved_units,
                key=f"{tid}:{cycle}:release:{key}",
                reason="re-typed",
            )
        )
        if units:
            ops.append(
                CreditOp(
                    CreditKind.RESERVE, units, key=f"{tid}:{cycle}:reserve:{key}", reason="re-typed"
                )
            )
        f["reserved_units"] = units
    if (t["resolved"] or t["closed"]) and st.accepted_at is None and not t["accepted"]:
        # closed before anyone accepted it (cancelled, or refused by the cap): nothing to take
        return
    if t["resolved"] or t["closed"]:
        if t.get("auto_closed") and not spec.auto_close_debit:
            if f["reserved_units"]:
                ops.append(
                    CreditOp(
                        CreditKind.RELEASE,
                        f["reserved_units"],
                        key=f"{tid}:{cycle}:release",
                        reason="auto-closed free",
                    )
                )
            f.update(reserved_units=0, debited_units=0, debited_type=w.task_type)
            return
        _debit(w, tid, cycle, units, "auto-closed" if t.get("auto_closed") else "completed")
        if units == 0 and f["reserved_units"]:
            ops.append(
                CreditOp(
                    CreditKind.RELEASE,
                    f["reserved_units"],
                    key=f"{tid}:{cycle}:release",
                    reason="free type",
                )
            )
        f.update(reserved_units=0, debited_units=units, debited_type=w.task_type)


def _held_done(w: Work, t: dict[str, bool], tid: str, cycle: int, units: int, plan: Plan) -> None:
    """A task on hold for credits (or about to be) that the team resolved or closed anyway.

    Never free (issue 17): the plan's ``held_resolved`` decides. ``overdraft`` debits now; the
    ledger takes what live lots hold and flags the rest as overdraft debt (settled from the
    soonest-expiring lot of the next purchase). ``pending`` keeps the debit on the ticket
    until credits cover it, then takes it (:func:`_take_pending`).
    """
    f, run = w.facts, w.run
    f["held"] = False
    run.flag("held_resolved")
    w.timer_triggers.add("held_resolved")
    t["held"] = False
    available = w.ctx.state.company.credits_available
    if plan.held_resolved == "pending" and available < units:
        run.flag("debit_pending")
        f.update(debit_pending=units, reserved_units=0)
        return
    if available < units:
        run.flag("overdraft")
    _debit(w, tid, cycle, units, "completed while on hold for credits")
    f.update(reserved_units=0, debited_units=units, debited_type=w.task_type)


def _take_pending(w: Work, st: TicketState, tid: str, cycle: int) -> None:
    """A completed task's pending debit, taken as soon as the company's credits cover it."""
    f, run = w.facts, w.run
    units = st.debit_pending
    if w.ctx.state.company.credits_available < units:
        return
    run.flag("pending_debit_taken")
    _debit(w, tid, cycle, units, "pending debit taken: credits arrived")
    f.update(debit_pending=0, reserved_units=0, debited_units=units,
             debited_type=st.debited_type or w.task_type)


def _debit(w: Work, tid: str, cycle: int, units: int, reason: str) -> None:
    if units:
        w.ops.append(CreditOp(CreditKind.DEBIT, units, key=f"{tid}:{cycle}:debit", reason=reason))
    if w.money is not None:
        w.ops.append(
            CreditOp(
                CreditKind.MONEY,
                0,
                money=w.money,
                key=f"{tid}:{cycle}:money",
                reason=f"estimate x rate ({reason})",
            )
        )
