"""The working state of one evaluation, shared by the lifecycle's steps and the settle functions.

:mod:`rules.lifecycle` runs the steps over it; :func:`rules.deadlines.settle` and
:func:`rules.credits.settle` fill in the deadlines and the credit operations. A module of
its own so those two can take it typed without importing the lifecycle that calls them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rules.actions.base import Run
from rules.calendar.model import Calendar
from rules.calendar.timeline import TimelineEntry
from rules.cap import CapResult
from rules.classify import Overrides
from rules.config.model import Policy, RuleSet
from rules.decision import CreditOp, Money, Transitions
from rules.fields import Context


@dataclass
class Work:
    """Everything computed for one event before it becomes a :class:`~rules.decision.Decision`."""

    rules: RuleSet
    ctx: Context
    ov: Overrides
    run: Run
    task_type: str
    units: int
    rule: str
    policy: Policy | None
    cal_name: str
    cal: Calendar
    team: Calendar
    transitions: Transitions = field(default_factory=Transitions)
    timer_triggers: set[str] = field(default_factory=set)
    #: the ticket's facts as this event leaves them (a JSON-able bag, as stored)
    facts: dict[str, Any] = field(default_factory=dict)
    company_facts: dict[str, Any] = field(default_factory=dict)
    due: dict[str, datetime | None] = field(default_factory=dict)
    timelines: dict[str, tuple[TimelineEntry, ...]] = field(default_factory=dict)
    deferred_to: datetime | None = None
    slot: CapResult | None = None
    money: Money | None = None
    ops: list[CreditOp] = field(default_factory=list)
