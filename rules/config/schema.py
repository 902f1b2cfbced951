"""The marshmallow schemas of a rules file, and marshmallow errors turned into positioned problems.

Conditions and action params are kept raw here (``fields.Raw``) and checked by
:mod:`rules.conditions` and each action's own schema, so every message points at the
exact key that is wrong.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from rules.bounds import DEFAULTS, year_window_problem
from rules.config.source import PathKey, Problem, Source, did_you_mean

TARGET_KINDS = ("working_hours", "units_times", "bug_cutoff", "end_of_next_working_day", "due_date")
TARGET_NAMES = ("accept", "first_response", "resolve")
CAP_POLICIES = ("defer", "reject", "flag")
TRIGGERS_TIMER = ("timer.acceptance_overdue", "timer.breach_warning", "timer.auto_close")
TRANSITIONS = (
    "filed",
    "accepted",
    "resolved",
    "closed",
    "auto_closed",
    "reopened",
    "released",
    "retyped",
    "deferred",
    "held",
    "low_balance",
    # issue 17: credits don't cover a task at filing; a held task was resolved anyway
    "credits_short",
    "held_resolved",
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def defaults_of(schema: type[Schema]) -> dict[str, Any]:
    """What ``schema`` loads from nothing: its ``load_default`` values, the one place a
    setting's default is written (compile reads loaded values, never ``.get(k, default)``)."""
    return dict(schema().load({}))


class DefaultsSchema(_Strict):
    type = fields.String(load_default="simple")
    calendar = fields.String(load_default="default")
    team_calendar = fields.String(load_default=None)
    language = fields.String(load_default="uk")
    #: internal notes' language (issue 17); unset: ``language``
    team_language = fields.String(load_default=None)


class MoneySchema(_Strict):
    rate = fields.Decimal(load_default=None, validate=validate.Range(min=0))
    currency = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Z]{3}$"))
    per = fields.String(load_default="estimate_hours", validate=validate.OneOf(["estimate_hours"]))


class TypeSchema(_Strict):
    units = fields.Integer(load_default=1, validate=validate.Range(min=1))
    #: credits taken on completion: a number, or ``units``
    credits = fields.Raw(load_default="units")
    money = fields.Nested(MoneySchema, load_default=None)
    cap_exempt = fields.Boolean(load_default=False)
    never_hold = fields.Boolean(load_default=False)
    auto_close = fields.String(load_default="debit", validate=validate.OneOf(["debit", "free"]))
    label = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)


class OverridesSchema(_Strict):
    type_field = fields.String(load_default="task_type")
    type_tag_prefix = fields.String(load_default="type:")
    units_field = fields.String(load_default="units")
    estimate_field = fields.String(load_default="estimate_hours")
    due_field = fields.String(load_default="due_at")


class AcceptanceSchema(_Strict):
    status = fields.String(load_default="accepted")
    by = fields.List(fields.String(), load_default=lambda: ["agent"])
    #: setting any of these override fields is an acceptance too
    on_fields = fields.Boolean(load_default=True)


class ClassifySchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=1))
    when = fields.Raw(load_default=None)
    type = fields.String(required=True)
    units = fields.Integer(load_default=None, validate=validate.Range(min=1))


class TargetSchema(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(TARGET_KINDS))
    hours = fields.Float(load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    cutoff = fields.String(load_default="16:00", validate=validate.Regexp(r"^\d{1,2}:\d{2}$"))
    #: for due_date: estimate hours in working time from filing when no due date is set
    fallback = fields.String(load_default=None, validate=validate.OneOf(["estimate_hours"]))


class PolicySchema(_Strict):
    name = fields.String(required=True)
    types = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    when = fields.Raw(load_default=None)
    #: candidates in order: ``client``, ``manager``, or a calendar name
    calendar = fields.List(fields.String(), load_default=lambda: ["client", "manager", "default"])
    pause_when = fields.Raw(load_default=None)
    targets = fields.Dict(
        keys=fields.String(validate=validate.OneOf(TARGET_NAMES)),
        values=fields.Nested(TargetSchema),
        load_default=dict,
    )


class CapSchema(_Strict):
    max = fields.Integer(load_default=3, validate=validate.Range(min=1))
    policy = fields.String(load_default="defer", validate=validate.OneOf(CAP_POLICIES))
    exempt_types = fields.List(fields.String(), load_default=list)


class RangeSchema(_Strict):
    min = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                       validate=validate.Range(min=0, max=1e9))
    max = fields.Float(load_default=None, allow_none=True, allow_nan=False,
                       validate=validate.Range(min=0, max=1e9))


class YearsSchema(_Strict):
    """``limits.input.years``: the years every instant of an event lies in."""

    min = fields.Integer(load_default=None, allow_none=True, strict=True)
    max = fields.Integer(load_default=None, allow_none=True, strict=True)

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        base = DEFAULTS["years"]
        low = base.low if data.get("min") is None else data["min"]
        high = base.high if data.get("max") is None else data["max"]
        problem = year_window_problem(Decimal(low), Decimal(high))
        if problem:
            raise ValidationError(problem)


class InputSchema(_Strict):
    """``limits.input``: ranges of the numbers from outside (rules/bounds.py)."""

    units = fields.Nested(RangeSchema, load_default=None)
    estimate_hours = fields.Nested(RangeSchema, load_default=None)
    time_minutes = fields.Nested(RangeSchema, load_default=None)
    years = fields.Nested(YearsSchema, load_default=None)


#: the ledger's columns (INTEGER; NUMERIC(14, 2)): no configured limit may pass them
COLUMN_MAX_INT = 2_147_483_647
COLUMN_MAX_PRICE = Decimal("999999999999.99")


class CreditLimitsSchema(_Strict):
    """``limits.credits``: what one purchase or manual adjustment may move (the CLI
    ``deskpilot credits buy|adjust`` and the admin API; plugin/ledger/limits.py). The one
    place these defaults are written."""

    max_tasks_per_purchase = fields.Integer(
        load_default=1_000_000, strict=True, validate=validate.Range(min=1, max=COLUMN_MAX_INT))
    max_price = fields.Decimal(
        load_default=Decimal("999999999999.99"), allow_nan=False,
        validate=validate.Range(min=0, max=COLUMN_MAX_PRICE))
    max_adjust = fields.Integer(
        load_default=100_000, strict=True, validate=validate.Range(min=1, max=COLUMN_MAX_INT))


class LimitsSchema(_Strict):
    daily_cap = fields.Nested(CapSchema, load_default=None)
    input = fields.Nested(InputSchema, load_default=None)
    credits = fields.Nested(CreditLimitsSchema, load_default=None)


class UnknownCompanySchema(_Strict):
    flag = fields.String(load_default="no_account", validate=validate.Length(min=1))
    template = fields.String(load_default=None)


class CreditsSchema(_Strict):
    # unset: each company's plan decides (plans.yaml, whose schema holds the defaults);
    # set here: every plan is overridden
    on_insufficient = fields.String(
        load_default=None, validate=validate.OneOf(["hold", "overdraft"])
    )
    low_balance = fields.Integer(load_default=None, validate=validate.Range(min=0))
    unknown_company = fields.Nested(
        UnknownCompanySchema, load_default=lambda: defaults_of(UnknownCompanySchema)
    )


class BreachSchema(_Strict):
    before_minutes = fields.Integer(load_default=30, validate=validate.Range(min=1))
    deadlines = fields.List(
        fields.String(validate=validate.OneOf(TARGET_NAMES)), load_default=lambda: ["resolve"]
    )


class AutoCloseSchema(_Strict):
    idle_days = fields.Float(load_default=5, validate=validate.Range(min=0, min_inclusive=False))
    statuses = fields.List(fields.String(), load_default=lambda: ["resolved", "waiting_client"])


class TimersSchema(_Strict):
    breach_warning = fields.Nested(BreachSchema, load_default=None)
    auto_close = fields.Nested(AutoCloseSchema, load_default=None)
    acceptance_overdue = fields.Boolean(load_default=True)


class AutomationSchema(_Strict):
    @pre_load
    def _yaml_on(self, data: Any, **_: Any) -> Any:
        # YAML 1.1 reads an unquoted `on:` key as the boolean true
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    name = fields.String(required=True)
    on = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    when = fields.Raw(load_default=None)
    actions = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
    once = fields.Boolean(load_default=False)
    enabled = fields.Boolean(load_default=True)


class ManagerSchema(_Strict):
    calendar = fields.String(load_default=None)
    companies = fields.List(fields.String(), load_default=list)
    name = fields.String(load_default=None)


class CompanySchema(_Strict):
    calendar = fields.String(load_default=None)
    language = fields.String(load_default=None)


class RoutingSchema(_Strict):
    managers = fields.Dict(
        keys=fields.String(), values=fields.Nested(ManagerSchema), load_default=dict
    )
    companies = fields.Dict(
        keys=fields.String(), values=fields.Nested(CompanySchema), load_default=dict
    )
    max_companies_per_manager = fields.Integer(load_default=10, validate=validate.Range(min=1))


class RulesFileSchema(_Strict):
    """One file of ``config/rules/``; sections may be spread over several files."""

    version = fields.Integer(validate=validate.OneOf([1]))
    defaults = fields.Nested(DefaultsSchema)
    types = fields.Dict(keys=fields.String(), values=fields.Nested(TypeSchema))
    overrides = fields.Nested(OverridesSchema)
    acceptance = fields.Nested(AcceptanceSchema)
    classify = fields.List(fields.Nested(ClassifySchema))
    policies = fields.List(fields.Nested(PolicySchema))
    limits = fields.Nested(LimitsSchema)
    credits = fields.Nested(CreditsSchema)
    timers = fields.Nested(TimersSchema)
    automations = fields.List(fields.Nested(AutomationSchema))
    routing = fields.Nested(RoutingSchema)
    templates = fields.Dict(keys=fields.String(), values=fields.Dict())


FILE_SCHEMA = RulesFileSchema()


def section_defaults(name: str) -> dict[str, Any]:
    """A rules section as loaded when no file gives it (e.g. ``overrides``)."""
    field = FILE_SCHEMA.fields[name]
    assert isinstance(field, fields.Nested) and isinstance(field.nested, type)
    return defaults_of(field.nested)


def _schema_at(schema: Schema, path: PathKey) -> Schema | None:
    """The nested schema that governs ``path`` (for the keys it offers in did-you-mean)."""
    current: Any = schema
    for part in path:
        if isinstance(current, Schema):
            current = current.fields.get(str(part)) if isinstance(part, str) else None
        elif isinstance(current, fields.List):
            current = current.inner
        elif isinstance(current, fields.Dict):
            current = current.value_field
        else:
            return None
        if isinstance(current, fields.Nested):
            current = current.schema
    return current if isinstance(current, Schema) else None


def _flatten(messages: Any, path: PathKey, out: list[tuple[PathKey, str]]) -> None:
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                _flatten(value, path, out)
            elif key in ("key", "value") and isinstance(value, (dict, list)) and path:
                # marshmallow's Dict reports errors under "key"/"value"; drop that level
                _flatten(value, path, out)
            else:
                _flatten(value, (*path, key), out)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend((path, m) for m in messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            _flatten(value, (*path, i), out)
    else:
        out.append((path, str(messages)))


def validate_with(
    schema: Schema, src: Source, data: Any, base: PathKey, problems: list[Problem]
) -> dict[str, Any] | None:
    """Load ``data`` with ``schema``; append one positioned problem per message."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        flat: list[tuple[PathKey, str]] = []
        _flatten(exc.messages, (), flat)
        for path, msg in flat:
            full = (*base, *path)
            if msg == "Unknown field." and path:
                parent = _schema_at(schema, path[:-1])
                hint = did_you_mean(str(path[-1]), parent.fields if parent else [])
                msg = f"unknown key '{path[-1]}'{hint}"
            elif msg.startswith("Must be one of:"):
                got = _value_at(data, path)
                choices = [c.strip(" .") for c in msg[len("Must be one of:") :].split(",")]
                msg = f"'{got}' is not one of {', '.join(choices)}{did_you_mean(str(got), choices)}"
            problems.append(src.problem(full, msg))
        return None


def _value_at(data: Any, path: PathKey) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
