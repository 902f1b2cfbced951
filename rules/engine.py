"""The engine: ``evaluate(rules, event, state, now) -> Decision``; pure, no I/O, no clock.

Order: overrides and classification → policy and calendar → decisive automations
(``auto_accept``, ``retype``) → lifecycle → daily cap → pauses and deadlines → credits →
notification automations. ``evaluate_timer`` runs the same path for a scheduler tick.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rules import items, lifecycle
from rules.actions.base import Run
from rules.classify import classify, read_overrides
from rules.config.model import Policy, RuleSet
from rules.decision import Decision, State
from rules.event import Actor, EventType, Ticket, TicketEvent
from rules.fields import Context
from rules.templates import renderer


def evaluate(
    rules: RuleSet, event: TicketEvent, state: State, now: datetime, explain: bool = True
) -> Decision:
    """What ``event`` means for its ticket, given the stored ``state`` and the clock ``now``.

    ``explain=False`` (workers, replay) skips condition traces and deadline timelines;
    the decision is otherwise identical.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    team = rules.calendars[rules.team_calendar]
    st = state.ticket
    if event.own_write or event.event == EventType.UNKNOWN:
        reason = "own write" if event.own_write else "unknown event"
        return Decision(
            event.ticket.id,
            st.task_type or rules.default_type,
            st.units or 1,
            st.rule or "",
            st.calendar or rules.default_calendar,
            rules_version=rules.version,
            ignored=reason,
            accept_due=st.accept_due,
            first_response_due=st.first_response_due,
            resolve_due=st.resolve_due,
            deferred_to=st.deferred_to,
        )
    # a comment or time entry applied before counts once (rules.items); the rest applies
    # (a timer tick re-reads the stored snapshot: it reports nothing new)
    seen = items.Seen(st.logged_minutes, st.comments_seen, st.time_entries)
    counted = (items.count(event, seen) if event.event != EventType.TIMER
               else items.Counted(event, seen, 0, False))
    event = counted.event
    ctx = Context(event, state, now, team.tz, explain=explain,
                  logged_minutes=counted.seen.logged_minutes)
    # the event's own trigger fires once per item; a total raised by another event (an
    # update carrying the host's new total) is time logged
    own = set() if counted.repeat else {event.event}
    if counted.added > 0 and event.event not in items.TIME_EVENTS:
        own.add(EventType.TIME_LOGGED)
    trace: list[dict[str, object]] = []
    ov = read_overrides(rules, ctx)
    task_type, units, rule = classify(rules, ctx, ov, trace)
    ctx.task_type, ctx.units = task_type, units
    company = event.ticket.company.id if event.ticket.company else state.company.id
    manager = rules.company_manager.get(company or "") or state.company.manager
    ctx.extra["manager"] = manager
    run = Run(ctx, render=_not_yet, manager=manager)
    # decisive automations run before the lifecycle, since they decide acceptance and type
    early = own if st.known else {*own, "filed"}
    for auto in rules.automations:
        if auto.decisive and not auto.on.isdisjoint(early):
            lifecycle.run_automation(auto, run, trace, st)
    if run.retype is not None:
        task_type, units = run.retype
        rule = f"automation:{run.ticket_facts['retyped_by']}"
        ctx.task_type, ctx.units = task_type, units
    policy = choose_policy(rules, ctx, task_type)
    cal_name = choose_calendar(rules, policy, company, manager, state)
    cal = rules.calendars[cal_name]
    work = lifecycle.Steps(rules, ctx, ov, run, task_type, units, rule, policy, cal_name, cal, team)
    work.facts.update(logged_minutes=counted.seen.logged_minutes,
                      comments_seen=counted.seen.comments, time_entries=counted.seen.entries)
    # templates render lazily (when executed or explained), from the decision's final values
    run.render = renderer(rules, work.placeholders, company, event.ticket.requester_locale)
    work.settle()
    names = work.transitions.names()
    late = {*own, *names, *work.timer_triggers}
    ctx.transitions = frozenset(names)
    ctx.extra["flags"] = run.flags
    for auto in rules.automations:
        if not auto.on.isdisjoint(late) and not (auto.decisive and not auto.on.isdisjoint(early)):
            lifecycle.run_automation(auto, run, trace, st)
    return work.decision(trace)


def _not_yet(name: str) -> str:
    raise RuntimeError(f"template '{name}' rendered before the decision's values are known")


def evaluate_timer(
    rules: RuleSet, ticket: Ticket, state: State, now: datetime, explain: bool = True
) -> Decision:
    """A scheduler tick for one ticket: acceptance overdue, breach warnings, auto-close."""
    tick = TicketEvent(
        connection="",
        host_kind="timer",
        delivery_key=f"timer:{ticket.id}:{now.isoformat()}",
        event=EventType.TIMER,
        occurred_at=now,
        ticket=ticket,
        actor=Actor("system"),
    )
    return evaluate(rules, tick, state, now, explain)


def choose_policy(rules: RuleSet, ctx: Context, task_type: str) -> Policy | None:
    for policy in rules.policies:
        if task_type in policy.types and policy.when.test(ctx):
            return policy
    return None


def choose_calendar(
    rules: RuleSet, policy: Policy | None, company: str | None, manager: str | None, state: State
) -> str:
    """The first candidate of the policy's ``calendar`` list that names a known calendar."""
    for candidate in policy.calendar if policy else (rules.default_calendar,):
        if candidate == "client":
            name = rules.company_calendar.get(company or "") or state.company.calendar
        elif candidate == "manager":
            name = rules.manager_calendar.get(manager or "")
        else:
            name = candidate
        if name and name in rules.calendars:
            return name
    return rules.default_calendar


def with_state(decision: Decision, state: State) -> State:
    """The state after ``decision``: what a worker stores, and what replay feeds forward."""
    ticket = replace(state.ticket, **decision.ticket_facts)
    counts = dict(state.company.started_by_day)
    take = decision.company_facts.get("take_slot")
    free = decision.company_facts.get("free_slot")
    if free is not None:
        counts[free] = max(0, counts.get(free, 0) - 1)
    if take is not None:
        counts[take] = counts.get(take, 0) + 1
    return replace(
        state,
        ticket=ticket,
        company=replace(state.company, started_by_day=counts),
        tasks_today=None,
        client_idle_days=None,
    )
