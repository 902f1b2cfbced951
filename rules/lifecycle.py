"""One evaluation's working state: transitions, cap, pauses, deadlines, timers, then a Decision.

Acceptance (SPEC §2) is the specialist's act: the status set to accepted, the type, units,
estimate or due date set, or an agent starting work; or an ``auto_accept`` automation.
Credit operations are in :mod:`rules.credits`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rules import credits, deadlines
from rules.actions.base import Run
from rules.calendar.business_time import is_open, working_between
from rules.cap import apply_cap
from rules.config.model import Automation
from rules.decision import Decision, TicketState, Transitions
from rules.event import EventType
from rules.templates import PerLanguage
from rules.work import Work

WORK_STATUSES = ("in_progress", "waiting_client", "resolved")
DONE = ("resolved", "closed")
#: the status of a ticket its host deleted: the ticket ends there (its reservation released,
#: no timers, nothing written to it, open nowhere); a creation under its id later (hosts that
#: reuse a deleted row's id: Redmine on SQLite, MySQL before 8.0 after a restart) is a new
#: ticket
GONE = "deleted"
#: the statuses of a ticket that is no longer open
ENDED = (*DONE, GONE)


def run_automation(
    auto: Automation, run: Run, trace: list[dict[str, Any]], st: TicketState
) -> None:
    """Run ``auto`` when its condition holds (once-only automations fire once per ticket)."""
    fired = list(run.ticket_facts.get("fired", st.facts.get("fired", ())))
    if auto.once and auto.name in fired:
        return
    matched = auto.when.test(run.ctx)
    if run.ctx.explain:
        conditions = auto.when.trace(run.ctx)
        trace.append(
            {"rule": f"automation:{auto.name}", "matched": matched, "conditions": conditions}
        )
    if not matched:
        return
    for spec, params in auto.actions:
        spec.run(run, params)
        if spec.name == "retype":
            run.ticket_facts["retyped_by"] = auto.name
    if auto.once:
        run.ticket_facts["fired"] = [*fired, auto.name]


class Steps(Work):
    """The lifecycle's steps over one evaluation's :class:`~rules.work.Work`."""

    # -- the steps ------------------------------------------------------------------------
    def settle(self) -> None:
        ev, st, now = self.ctx.event, self.ctx.state.ticket, self.ctx.now
        old = st.status if st.known else (ev.changes.get("status", (None, None))[0] or None)
        new = GONE if ev.event == EventType.DELETED else (ev.ticket.status or old)
        t = dict(filed=not st.known)
        t["accepted"] = st.accepted_at is None and not st.held and self._accepts(old, new)
        t["resolved"] = new == "resolved" and old != "resolved"
        t["closed"] = new == "closed" and old != "closed"
        t["reopened"] = old in DONE and new is not None and new not in ENDED
        t["released"] = ev.event in (EventType.MERGED, EventType.DELETED)
        t["retyped"] = (
            st.known
            and st.task_type is not None
            and (st.task_type != self.task_type or (st.units or 1) != self.units)
        )
        filed_at = st.filed_at or ev.ticket.created_at
        f = self.facts
        f.update(
            task_type=self.task_type,
            units=self.units,
            rule=self.rule,
            status=new,
            filed_at=filed_at,
            calendar=self.cal_name,
            known=True,
        )
        f.update(self.run.ticket_facts)
        self._activity(old, new)
        if ev.event == EventType.TIMER:
            self._timers(st, t)
            new = f["status"]
        if t["accepted"]:
            f["accepted_at"] = now
        if t["resolved"]:
            f["resolved_at"] = now
        if t["closed"]:
            f["closed_at"] = now
        if t["reopened"]:
            f["reopen_count"] = st.reopen_count + 1
        self._cap(st, t, filed_at)
        deadlines.settle(self, st, filed_at)
        credits.settle(self, st, t)
        self.transitions = Transitions(**t)
        self._builtin_actions(st)

    def _accepts(self, old: str | None, new: str | None) -> bool:
        r, ev = self.rules, self.ctx.event
        if self.run.accept:
            return True
        if ev.actor.kind not in r.accept_by:
            return False
        if new == r.accept_status and old != r.accept_status:
            return True
        if new in WORK_STATUSES and old not in WORK_STATUSES:
            return True  # an agent who starts or finishes work has accepted the task
        if r.accept_on_fields:
            names = [
                r.overrides[k] for k in ("type_field", "units_field", "estimate_field", "due_field")
            ]
            changed = {str(k).removeprefix("custom_fields.") for k in ev.changes}
            return bool(changed & set(names))
        return False

    def _activity(self, old: str | None, new: str | None) -> None:
        ev, now, f = self.ctx.event, self.ctx.now, self.facts
        st = self.ctx.state.ticket
        if ev.comment is not None and ev.comment.public and ev.comment.author.kind == "client":
            f["last_client_activity_at"] = now  # a client comment resets the auto-close timer
        if new in ("resolved", "waiting_client") and old != new:
            f["waiting_since"] = now
        if self.ov.estimate_hours is not None:
            f["estimate_hours"] = self.ov.estimate_hours
        if self.ov.due_at is not None:
            f["due_at"] = self.ov.due_at
        if (
            ev.comment is not None
            and ev.comment.public
            and ev.comment.author.kind == "agent"
            and st.first_response_at is None
        ):
            f["first_response_at"] = now
        # the clock pauses while the policy's pause condition holds (shipped: waiting_client)
        pauses = list(st.pauses)
        if self.policy and self.policy.pause_when is not None:
            paused = self.policy.pause_when.test(self.ctx)
            is_open_pause = bool(pauses) and pauses[-1][1] is None
            if paused and not is_open_pause:
                pauses.append((now, None))
            elif not paused and is_open_pause:
                pauses[-1] = (pauses[-1][0], now)
        f["pauses"] = tuple(pauses)

    def _timers(self, st: TicketState, t: dict[str, bool]) -> None:
        r, now, f = self.rules, self.ctx.now, self.facts
        if st.status in ("closed", GONE):
            return
        if (
            r.acceptance_overdue
            and st.accepted_at is None
            and not st.escalated
            and st.accept_due is not None
            and now >= st.accept_due
        ):
            self.timer_triggers.add("timer.acceptance_overdue")
            f["escalated"] = True
        if r.breach_before_minutes and st.status not in DONE and is_open(now, self.cal):
            # never at night: warnings go out only inside working hours
            warned = list(st.warned)
            for name in r.breach_deadlines:
                due = getattr(st, f"{name}_due", None)
                if due is None or name in warned or now >= due:
                    continue
                left = working_between(now, due, self.cal)
                if left <= timedelta(minutes=r.breach_before_minutes):
                    warned.append(name)
                    self.timer_triggers.add("timer.breach_warning")
                    f["warning_deadline"] = name
            f["warned"] = tuple(warned)
        if r.auto_close_days is not None and st.status in r.auto_close_statuses:
            since = max(
                (d for d in (st.waiting_since, st.last_client_activity_at) if d), default=None
            )
            if since is not None and now - since >= timedelta(days=r.auto_close_days):
                self.timer_triggers.add("timer.auto_close")
                t["auto_closed"] = t["closed"] = True
                f["status"] = "closed"
                f["closed_at"] = now

    def _cap(self, st: TicketState, t: dict[str, bool], filed_at: datetime) -> None:
        f = self.facts
        cap = self.rules.cap
        f["slot_day"], f["deferred_to"] = st.slot_day, st.deferred_to
        if cap is None or not t["filed"] or self.ctx.event.event == EventType.TIMER:
            self.deferred_to = st.deferred_to
            return
        company = self.ctx.state.company
        res = apply_cap(
            cap,
            self.task_type,
            filed_at,
            self.team,
            company.started_by_day,
            self.ctx.state.tasks_today,
        )
        self.slot = res
        f["slot_day"], f["deferred_to"] = res.slot_day, res.deferred_to
        self.deferred_to = res.deferred_to
        if res.slot_day is not None:
            self.company_facts["take_slot"] = res.slot_day
        if res.over:
            self.run.flag("over_cap")
        if res.action == "defer":
            t["deferred"] = True
        elif res.action == "reject":
            t["closed"] = True
            f["status"] = "closed"
            self.run.flag("cap_rejected")

    def _builtin_actions(self, st: TicketState) -> None:
        run, f = self.run, self.facts
        if st.known and (st.task_type, st.units) != (self.task_type, self.units) or not st.known:
            run.emit("set_fields", fields={"task_type": self.task_type, "units": self.units})
        # SPEC §2: the resolution deadline goes to the host (and the client) on acceptance,
        # so it is pushed then even when its value was already known at filing
        accepted = st.accepted_at is not None or self.transitions.accepted
        changed = (st.accept_due, st.first_response_due, st.resolve_due, st.deferred_to) != (
            self.due.get("accept"),
            self.due.get("first_response"),
            self.due.get("resolve"),
            self.deferred_to,
        )
        if changed or self.transitions.accepted:
            run.emit(
                "set_deadlines",
                accept_due=self.due.get("accept"),
                first_response_due=self.due.get("first_response"),
                resolve_due=self.due.get("resolve") if accepted else None,
                deferred_to=self.deferred_to,
            )
        if f.get("status") != (self.ctx.event.ticket.status or st.status):
            run.emit("set_status", status=f["status"])

    # -- output ---------------------------------------------------------------------------
    def placeholders(self) -> dict[str, Any]:
        ev, st = self.ctx.event, self.ctx.state
        spec = self.rules.types.get(self.task_type)
        lang = self.rules.language
        warn = self.facts.get("warning_deadline")
        idle = self.ctx.now - (st.ticket.waiting_since or self.ctx.now)
        return {
            "ticket_id": ev.ticket.reference or f"#{ev.ticket.id}",
            "subject": ev.ticket.subject,
            "task_type": self.task_type,
            # in the language of the note it lands in (client and team may differ)
            "type_label": PerLanguage(spec.label if spec else {}, lang, self.task_type),
            "units": self.units,
            "accept_due": self._local(self.due.get("accept")),
            "first_response_due": self._local(self.due.get("first_response")),
            "resolve_due": self._local(self.due.get("resolve")),
            "deferred_to": self._local(self.deferred_to),
            "credits_available": st.company.credits_available,
            "logged_hours": round(
                self.facts.get("logged_minutes", st.ticket.logged_minutes) / 60, 2
            ),
            "company": ev.ticket.company.name if ev.ticket.company else None,
            "manager": self.run.manager,
            "idle_days": idle.days,
            "deadline": warn,
            "due": self._local(getattr(st.ticket, f"{warn}_due", None) if warn else None),
            "cap": self.rules.cap.max if self.rules.cap else None,
            # the calendar day (team zone) whose cap the task counted on: "Saturday 05.12"
            "cap_day": self.slot.posted_day if self.slot else None,
            "credits_needed": self._credits_needed(),
            "money": f"{self.money.amount} {self.money.currency}" if self.money else None,
        }

    def _credits_needed(self) -> int:
        spec = self.rules.types.get(self.task_type)
        return self.units if spec is None or spec.credits is None else spec.credits

    def _local(self, t: datetime | None) -> datetime | None:
        if t is None or t.tzinfo is self.cal.tz:
            return t  # computed deadlines are in the calendar's zone already
        return t.astimezone(self.cal.tz)

    def decision(self, trace: list[dict[str, Any]]) -> Decision:
        spec = self.rules.types[self.task_type]
        on_resolve = self.units if spec.credits is None else spec.credits
        self.facts.update(self.run.ticket_facts)
        known = TicketState.__dataclass_fields__
        extra = {k: v for k, v in self.facts.items() if k not in known}
        facts = {k: v for k, v in self.facts.items() if k in known}
        if extra:
            facts["facts"] = {**self.ctx.state.ticket.facts, **extra}
        return Decision(
            ticket_id=self.ctx.event.ticket.id,
            task_type=self.task_type,
            units=self.units,
            rule=self.rule,
            calendar=self.cal_name,
            accept_due=self._local(self.due.get("accept")),
            first_response_due=self._local(self.due.get("first_response")),
            resolve_due=self._local(self.due.get("resolve")),
            deferred_to=self._local(self.deferred_to),
            transitions=self.transitions,
            cycle=facts.get("cycle", 0),
            credits_on_resolve=on_resolve,
            money=self.money,
            credit_ops=tuple(self.ops),
            actions=tuple(self.run.actions),
            flags=tuple(self.run.flags),
            ticket_facts=facts,
            company_facts=dict(self.company_facts),
            slot_day=self.company_facts.get("take_slot"),
            manager=self.run.manager,
            rules_version=self.rules.version,
            trace=tuple(trace),
            timelines=dict(self.timelines),
        )
