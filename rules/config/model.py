"""The compiled rule set: what the loader builds from ``config/`` and the engine reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

from rules.actions.base import ActionSpec
from rules.bounds import Bounds
from rules.calendar.model import Calendar
from rules.conditions import Condition


@dataclass(frozen=True)
class TypeSpec:
    """One task type: units, credits on completion, money, cap/hold exemptions."""

    name: str
    units: int = 1
    #: credits taken on completion: an int, or None meaning "the task's units"
    credits: int | None = None
    money_rate: Decimal | None = None
    money_currency: str | None = None
    cap_exempt: bool = False
    never_hold: bool = False
    auto_close_debit: bool = True
    label: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassifyRule:
    """``classify[i]``: first match sets type (and units)."""

    name: str
    when: Condition
    type: str
    units: int | None = None


@dataclass(frozen=True)
class Target:
    """How one deadline is computed (a kind of rules.targets)."""

    kind: str
    hours: float | None = None
    cutoff: time = time(16, 0)
    fallback: str | None = None


@dataclass(frozen=True)
class Policy:
    """Targets, calendar choice and pause condition for some types."""

    name: str
    types: frozenset[str]
    when: Condition
    calendar: tuple[str, ...]
    pause_when: Condition | None
    targets: Mapping[str, Target]


#: actions that decide acceptance or the type: their automations run before the lifecycle
DECISIVE_ACTIONS = frozenset({"auto_accept", "retype"})


@dataclass(frozen=True)
class Automation:
    """``on`` a trigger, ``when`` a condition holds, run ``actions``."""

    name: str
    on: frozenset[str]
    when: Condition
    actions: tuple[tuple[ActionSpec, Mapping[str, object]], ...]
    once: bool = False
    #: runs before the lifecycle (derived from ``actions``; the engine's loops read it)
    decisive: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        decisive = any(spec.name in DECISIVE_ACTIONS for spec, _ in self.actions)
        object.__setattr__(self, "decisive", decisive)


@dataclass(frozen=True)
class Template:
    """A notification text per language; ``visibility`` is client or internal."""

    name: str
    visibility: str
    texts: Mapping[str, str]


@dataclass(frozen=True)
class Cap:
    """The daily cap of SPEC §2."""

    max: int = 3
    policy: str = "defer"
    exempt_types: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Plan:
    """What the engine needs of a prepaid plan (from ``config/plans.yaml``; defaults:
    :class:`rules.config.plans_schema.PlanSchema`)."""

    on_insufficient: str
    low_balance: int
    #: a held task resolved anyway: ``overdraft`` (debit now, flagged) or ``pending``
    held_resolved: str


@dataclass(frozen=True)
class RuleSet:
    """Everything the engine needs, validated and compiled; immutable."""

    version: str
    default_type: str
    default_calendar: str
    team_calendar: str
    language: str
    types: Mapping[str, TypeSpec]
    overrides: Mapping[str, str]
    accept_status: str
    accept_by: frozenset[str]
    accept_on_fields: bool
    classify: tuple[ClassifyRule, ...]
    policies: tuple[Policy, ...]
    cap: Cap | None
    plans: Mapping[str, Plan]
    default_plan: str
    no_account_flag: str
    no_account_template: str | None
    breach_before_minutes: int | None
    breach_deadlines: tuple[str, ...]
    auto_close_days: float | None
    auto_close_statuses: frozenset[str]
    acceptance_overdue: bool
    automations: tuple[Automation, ...]
    company_manager: Mapping[str, str]
    manager_calendar: Mapping[str, str]
    company_calendar: Mapping[str, str]
    company_language: Mapping[str, str]
    templates: Mapping[str, Template]
    calendars: Mapping[str, Calendar]
    files: tuple[str, ...] = ()
    #: the language of internal notes (``defaults.team_language``; empty: ``language``)
    team_language: str = ""
    #: ranges of the numbers from outside (``limits.input``)
    bounds: Bounds = field(default_factory=Bounds)

    def plan(self, name: str | None) -> Plan:
        # the compiler always gives the default plan (the schema's defaults when unnamed)
        return self.plans.get(name or self.default_plan) or self.plans[self.default_plan]
