"""Turn merged, schema-valid sections into a :class:`RuleSet`, checking cross references.

Names that point elsewhere (types, calendars, templates, actions, triggers) are checked
here with "did you mean"; so are unreachable rules, duplicate names, overlapping policies
and managers holding too many companies (the last two are warnings).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import time
from decimal import Decimal
from typing import Any

from rules.actions import ACTIONS
from rules.bounds import compile_bounds
from rules.conditions import compile_condition, is_catch_all
from rules.config.model import (
    Automation,
    Cap,
    ClassifyRule,
    Plan,
    Policy,
    RuleSet,
    Target,
    Template,
    TypeSpec,
)
from rules.config.plans_schema import PlanSchema, PlansSchema, load_lenient
from rules.config.schema import TRANSITIONS, TRIGGERS_TIMER, section_defaults, validate_with
from rules.config.source import PathKey, Problem, Source, did_you_mean
from rules.config.team_templates import TEAM_TEMPLATES, check_team_templates, template_problems
from rules.event import EventType, company_key
from rules.templates import PLURAL_CATEGORIES

PLACEHOLDERS = (
    "ticket_id",
    "subject",
    "task_type",
    "type_label",
    "units",
    "accept_due",
    "first_response_due",
    "resolve_due",
    "deferred_to",
    "credits_available",
    "logged_hours",
    "company",
    "manager",
    "idle_days",
    "deadline",
    "due",
    "cap",
    "cap_day",
    "money",
    "credits_needed",
)
CALENDAR_ROLES = ("client", "manager")


def _name_check(
    src: Source, path: PathKey, name: Any, known: Iterable[str], what: str, out: list[Problem]
) -> bool:
    names = list(known)
    if name in names:
        return True
    out.append(src.problem(path, f"unknown {what} '{name}'{did_you_mean(str(name), names)}"))
    return False


def compile_ruleset(
    merged: Any,
    calendars: Mapping[str, Any],
    plans_src: Source | None,
    version: str,
    problems: list[Problem],
    files: list[str],
) -> RuleSet | None:
    single = {k: v for k, (_, v) in merged.single.items()}
    first_src = next(iter(merged.single.values()), (None,))[0]
    # a section no file gives is what its schema loads from nothing (its defaults)
    defaults = single.get("defaults") or section_defaults("defaults")
    types = _types(merged.dicts.get("types", {}), enhancement_rate(plans_src), problems)
    type_names = list(types) or [section_defaults("defaults")["type"]]
    if first_src is not None and "defaults" in merged.single:
        dsrc = merged.single["defaults"][0]
        _name_check(dsrc, ("defaults", "type"), defaults["type"], type_names, "type", problems)
        for key in ("calendar", "team_calendar"):
            if defaults[key]:
                _name_check(dsrc, ("defaults", key), defaults[key], calendars, "calendar", problems)
    templates = _templates(merged.dicts.get("templates", {}), defaults["language"], problems)
    check_team_templates(merged.dicts.get("templates", {}), first_src, problems)
    classify = _classify(merged.lists.get("classify", []), type_names, problems)
    policies = _policies(merged.lists.get("policies", []), type_names, calendars, problems)
    automations = _automations(merged.lists.get("automations", []), type_names, templates, problems)
    routing_src, routing = merged.single.get("routing", (None, {}))
    company_manager, manager_calendar, company_calendar, company_language = _routing(
        routing_src, routing or {}, calendars, problems
    )
    plans, default_plan, no_account = _plans(plans_src)
    credits = single.get("credits") or {}
    # a rules-level policy overrides every plan; unset, each plan's own (plans.yaml) holds
    if credits and credits["on_insufficient"] is not None:
        plans = {k: replace(v, on_insufficient=credits["on_insufficient"])
                 for k, v in plans.items()}
    if credits and credits["low_balance"] is not None:
        plans = {k: replace(v, low_balance=credits["low_balance"]) for k, v in plans.items()}
    unknown = (credits or section_defaults("credits"))["unknown_company"]
    if unknown["template"]:
        csrc = merged.single["credits"][0]
        _name_check(
            csrc,
            ("credits", "unknown_company", "template"),
            unknown["template"],
            templates,
            "template",
            problems,
        )
    cap_raw = (single.get("limits") or {}).get("daily_cap")
    cap = None
    if cap_raw:
        lsrc = merged.single["limits"][0]
        for i, t in enumerate(cap_raw["exempt_types"]):
            _name_check(
                lsrc, ("limits", "daily_cap", "exempt_types", i), t, type_names, "type", problems
            )
        exempt = {t for t, s in types.items() if s.cap_exempt} | set(cap_raw["exempt_types"])
        cap = Cap(cap_raw["max"], cap_raw["policy"], frozenset(exempt))
    timers = single.get("timers") or section_defaults("timers")
    breach = timers["breach_warning"]
    auto_close = timers["auto_close"]
    overrides = single.get("overrides") or section_defaults("overrides")
    acceptance = single.get("acceptance") or section_defaults("acceptance")
    if any(p.severity == "error" for p in problems):
        return None
    return RuleSet(
        version=version,
        default_type=defaults["type"],
        default_calendar=defaults["calendar"],
        team_calendar=defaults["team_calendar"] or defaults["calendar"],
        language=defaults["language"],
        types=types,
        overrides=overrides,
        accept_status=acceptance["status"],
        accept_by=frozenset(acceptance["by"]),
        accept_on_fields=acceptance["on_fields"],
        classify=tuple(classify),
        policies=tuple(policies),
        cap=cap,
        plans=plans,
        default_plan=default_plan,
        no_account_flag=unknown["flag"],
        no_account_template=unknown["template"],
        breach_before_minutes=breach["before_minutes"] if breach else None,
        breach_deadlines=tuple(breach["deadlines"]) if breach else (),
        auto_close_days=auto_close["idle_days"] if auto_close else None,
        auto_close_statuses=frozenset(auto_close["statuses"]) if auto_close else frozenset(),
        acceptance_overdue=timers["acceptance_overdue"],
        automations=tuple(automations),
        company_manager=company_manager,
        manager_calendar=manager_calendar,
        company_calendar=company_calendar,
        company_language=company_language,
        templates=templates,
        calendars=dict(calendars),
        files=tuple(files),
        team_language=defaults["team_language"] or defaults["language"],
        bounds=compile_bounds(
            {k: {m: v for m, v in r.items() if v is not None}
             for k, r in ((single.get("limits") or {}).get("input") or {}).items() if r},
            overrides),
    )


def _types(
    items: Mapping[str, tuple[Source, Any]],
    plan_rate: tuple[Decimal, str] | None,
    problems: list[Problem],
) -> dict[str, TypeSpec]:
    out: dict[str, TypeSpec] = {}
    for name, (src, raw) in items.items():
        credits = raw["credits"]
        if credits != "units" and not (isinstance(credits, int) and credits >= 0):
            problems.append(
                src.problem(
                    ("types", name, "credits"), "credits must be 'units' or a whole number >= 0"
                )
            )
            continue
        money = dict(raw.get("money") or {})
        if raw.get("money") is not None and money.get("rate") is None:
            if plan_rate is None:
                problems.append(
                    src.problem(
                        ("types", name, "money"),
                        "no rate: give 'rate' and 'currency' here or "
                        "enhancement.rate_per_hour in plans.yaml",
                    )
                )
                continue
            money["rate"], money["currency"] = plan_rate
        out[name] = TypeSpec(
            name=name,
            units=raw["units"],
            credits=None if credits == "units" else int(credits),
            money_rate=money.get("rate"),
            money_currency=money.get("currency"),
            cap_exempt=raw["cap_exempt"],
            never_hold=raw["never_hold"],
            auto_close_debit=raw["auto_close"] == "debit",
            label=raw["label"],
        )
    return out


def _templates(
    items: Mapping[str, tuple[Source, Any]], language: str, problems: list[Problem]
) -> dict[str, Template]:
    out: dict[str, Template] = {}
    for name, (src, raw) in items.items():
        base: PathKey = ("templates", name)
        vis = raw.get("visibility")
        if vis not in ("client", "internal"):
            problems.append(
                src.problem(
                    (*base, "visibility") if vis else base,
                    "visibility must be 'client' or 'internal'",
                )
            )
        problems.extend(template_problems(src, base, name, vis))
        # Deskpilot's own team templates have placeholders of their own
        allowed = TEAM_TEMPLATES.get(name, PLACEHOLDERS)
        texts = {k: v for k, v in raw.items() if k != "visibility"}
        for lang, text in texts.items():
            if not (isinstance(lang, str) and len(lang) == 2 and isinstance(text, str)):
                hint = did_you_mean(str(lang), ["visibility", "uk", "en"])
                problems.append(
                    src.problem(
                        (*base, lang),
                        f"'{lang}': expected a language code (uk, en) with a text{hint}",
                    )
                )
                continue
            _placeholders(src, (*base, lang), text, problems, allowed)
        for lang in sorted({language, "en"} - set(texts)):
            problems.append(src.problem(base, f"missing the '{lang}' text"))
        out[name] = Template(name, str(vis), texts)
    return out


def _placeholders(src: Source, path: PathKey, text: str, problems: list[Problem],
                  allowed: tuple[str, ...] = PLACEHOLDERS) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        problems.append(src.problem(path, f"bad placeholder: {exc} (write {{{{ for a brace)"))
        return
    lang = str(path[-1])
    for _, name, spec, _ in parsed:
        if name is not None and name not in allowed:
            hint = did_you_mean(name, allowed)
            problems.append(src.problem(path, f"unknown placeholder '{{{name}}}'{hint}"))
        categories = PLURAL_CATEGORIES.get(lang, ("one", "other"))
        if spec and "|" in spec and len(spec.split("|")) != len(categories):
            problems.append(src.problem(
                path, f"'{{{name}:{spec}}}': a number's forms in '{lang}' are "
                      f"{'|'.join(categories)} ({len(categories)} forms)"))


def _dupes(
    src: Source,
    path: PathKey,
    name: str,
    seen: dict[str, tuple[Source, PathKey]],
    what: str,
    problems: list[Problem],
) -> None:
    if name in seen:
        other, opath = seen[name]
        line = other.where(opath)[0]
        problems.append(
            src.problem(path, f"duplicate {what} name '{name}' (first at {other.file}:{line})")
        )
    else:
        seen[name] = (src, path)


def _classify(items: list, type_names: list[str], problems: list[Problem]) -> list[ClassifyRule]:
    out: list[ClassifyRule] = []
    seen: dict[str, tuple[Source, PathKey]] = {}
    catch_all: str | None = None
    for src, i, raw in items:
        base: PathKey = ("classify", i)
        _dupes(src, (*base, "name"), raw["name"], seen, "rule", problems)
        if catch_all is not None:
            problems.append(
                src.problem(
                    base,
                    f"rule '{raw['name']}' is unreachable: rule "
                    f"'{catch_all}' before it matches everything",
                )
            )
        _name_check(src, (*base, "type"), raw["type"], type_names, "type", problems)
        known = len(problems)
        cond = compile_condition(src, raw["when"], (*base, "when"), problems)
        # an invalid condition compiles to "always" so evaluation can go on; it is reported
        # once, as itself, not again as the reason the rules after it are unreachable
        if is_catch_all(cond) and catch_all is None and len(problems) == known:
            catch_all = raw["name"]
        out.append(ClassifyRule(raw["name"], cond, raw["type"], raw["units"]))
    return out


def _policies(
    items: list, type_names: list[str], calendars: Mapping[str, Any], problems: list[Problem]
) -> list[Policy]:
    out: list[Policy] = []
    seen: dict[str, tuple[Source, PathKey]] = {}
    invalid: set[str] = set()
    for src, i, raw in items:
        base: PathKey = ("policies", i)
        _dupes(src, (*base, "name"), raw["name"], seen, "policy", problems)
        for j, t in enumerate(raw["types"]):
            _name_check(src, (*base, "types", j), t, type_names, "type", problems)
        for j, c in enumerate(raw["calendar"]):
            if c not in CALENDAR_ROLES:
                _name_check(
                    src,
                    (*base, "calendar", j),
                    c,
                    [*CALENDAR_ROLES, *calendars],
                    "calendar",
                    problems,
                )
        targets: dict[str, Target] = {}
        for tname, t in raw["targets"].items():
            tpath = (*base, "targets", tname)
            if t["kind"] in ("working_hours", "units_times") and t["hours"] is None:
                problems.append(src.problem(tpath, f"kind '{t['kind']}' needs 'hours'"))
            h, m = (int(x) for x in t["cutoff"].split(":"))
            if h > 23 or m > 59:
                problems.append(src.problem((*tpath, "cutoff"), "cutoff is not a time of day"))
                h, m = 16, 0
            targets[tname] = Target(t["kind"], t["hours"], time(h, m), t["fallback"])
        known = len(problems)
        when = compile_condition(src, raw["when"], (*base, "when"), problems)
        if len(problems) > known:
            invalid.add(raw["name"])  # reported once; not "catch-all" for the overlap check
        pol = Policy(
            name=raw["name"],
            types=frozenset(raw["types"]),
            when=when,
            calendar=tuple(raw["calendar"]),
            pause_when=(
                compile_condition(src, raw["pause_when"], (*base, "pause_when"), problems)
                if raw["pause_when"] is not None
                else None
            ),
            targets=targets,
        )
        for prev in out:
            shared = sorted(prev.types & pol.types)
            if shared:
                verdict = (
                    "it never applies to them"
                    if is_catch_all(prev.when) and prev.name not in invalid
                    else "the first matching policy wins"
                )
                problems.append(
                    src.problem(
                        base,
                        f"policy '{pol.name}' overlaps policy "
                        f"'{prev.name}' for types {shared}; {verdict}",
                        "warning",
                    )
                )
        out.append(pol)
    return out


def _automations(
    items: list, type_names: list[str], templates: Mapping[str, Template], problems: list[Problem]
) -> list[Automation]:
    out: list[Automation] = []
    seen: dict[str, tuple[Source, PathKey]] = {}
    triggers = [*EventType.ALL, *TRANSITIONS, *TRIGGERS_TIMER]
    for src, i, raw in items:
        base: PathKey = ("automations", i)
        _dupes(src, (*base, "name"), raw["name"], seen, "automation", problems)
        for j, t in enumerate(raw["on"]):
            _name_check(src, (*base, "on", j), t, triggers, "trigger", problems)
        actions = []
        for j, entry in enumerate(raw["actions"]):
            apath = (*base, "actions", j)
            if not (isinstance(entry, dict) and len(entry) == 1):
                problems.append(
                    src.problem(
                        apath,
                        "an action is one key, e.g. {add_note: {visibility: client, template: x}}",
                    )
                )
                continue
            ((aname, params),) = entry.items()
            spec = ACTIONS.get(aname)
            if spec is None:
                hint = did_you_mean(str(aname), ACTIONS)
                problems.append(src.problem((*apath, aname), f"unknown action '{aname}'{hint}"))
                continue
            loaded = validate_with(spec.schema, src, params or {}, (*apath, aname), problems)
            if loaded is None:
                continue
            for key in spec.template_keys:
                if key in loaded and _name_check(
                    src, (*apath, aname, key), loaded[key], templates, "template", problems
                ):
                    tmpl = templates[loaded[key]]
                    vis = loaded.get("visibility")
                    if vis and tmpl.visibility != vis:
                        problems.append(
                            src.problem(
                                (*apath, aname, "visibility"),
                                f"template '{tmpl.name}' is {tmpl.visibility}, the note is {vis}",
                            )
                        )
            if aname == "retype":
                _name_check(
                    src, (*apath, aname, "type"), loaded["type"], type_names, "type", problems
                )
            actions.append((spec, loaded))
        if not raw["enabled"]:
            continue
        out.append(
            Automation(
                raw["name"],
                frozenset(raw["on"]),
                compile_condition(src, raw["when"], (*base, "when"), problems),
                tuple(actions),
                raw["once"],
            )
        )
    return out


def _routing(
    src: Source | None,
    routing: Mapping[str, Any],
    calendars: Mapping[str, Any],
    problems: list[Problem],
) -> tuple[dict, dict, dict, dict]:
    company_manager: dict[str, str] = {}
    manager_calendar: dict[str, str] = {}
    company_calendar: dict[str, str] = {}
    company_language: dict[str, str] = {}
    if src is None:
        return company_manager, manager_calendar, company_calendar, company_language
    limit = routing["max_companies_per_manager"]
    for name, m in routing["managers"].items():
        path: PathKey = ("routing", "managers", name)
        if m["calendar"]:
            _name_check(src, (*path, "calendar"), m["calendar"], calendars, "calendar", problems)
            manager_calendar[name] = m["calendar"]
        if len(m["companies"]) > limit:
            problems.append(
                src.problem(
                    (*path, "companies"),
                    f"manager '{name}' holds {len(m['companies'])} companies (more than {limit})",
                    "warning",
                )
            )
        for j, company in enumerate(m["companies"]):
            company = company_key(company)
            if company in company_manager:
                problems.append(
                    src.problem(
                        (*path, "companies", j),
                        f"company '{company}' is already assigned to '{company_manager[company]}'",
                    )
                )
            company_manager[company] = name
    for cid, c in routing["companies"].items():
        if c["calendar"]:
            _name_check(
                src,
                ("routing", "companies", cid, "calendar"),
                c["calendar"],
                calendars,
                "calendar",
                problems,
            )
            company_calendar[company_key(cid)] = c["calendar"]
        if c["language"]:
            company_language[company_key(cid)] = c["language"]
    return company_manager, manager_calendar, company_calendar, company_language


def _plans_file(src: Source | None) -> dict[str, Any]:
    """plans.yaml's shared settings as its schema loads them (``plans`` left raw)."""
    data = src.data if src is not None and isinstance(src.data, dict) else {}
    shared = {k: v for k, v in data.items() if k in PlansSchema().fields and k != "plans"}
    loaded = load_lenient(PlansSchema(), {**shared, "plans": {}})
    loaded["plans"] = data.get("plans") if isinstance(data.get("plans"), dict) else {}
    return loaded


def _plan(raw: Mapping[str, Any]) -> Plan:
    # the engine's part of a plan; every default is PlanSchema's
    loaded = load_lenient(PlanSchema(), raw)
    return Plan(
        loaded["on_insufficient"], loaded["low_balance_threshold"], loaded["held_resolved"]
    )


def _plans(src: Source | None) -> tuple[dict[str, Plan], str, str]:
    # plans.yaml belongs to the ledger; the engine reads only what decides holds and notices
    # (a wrong value is the ledger's plans check to report, plugin.ledger.plans, at every
    # process start; the engine keeps the schema's default for it)
    data = _plans_file(src)
    plans = {str(name): _plan(raw) for name, raw in data["plans"].items() if isinstance(raw, dict)}
    default = data["default_plan"]
    if default not in plans:
        plans[default] = _plan({})
    return plans, default, data["no_account"]


def enhancement_rate(src: Source | None) -> tuple[Decimal, str] | None:
    """plans.yaml's enhancement rate when it gives one (a type's money needs a rate)."""
    raw = src.data.get("enhancement") if src is not None and isinstance(src.data, dict) else None
    if isinstance(raw, dict) and "rate_per_hour" in raw:
        enh = _plans_file(src)["enhancement"]
        return enh["rate_per_hour"], enh["currency"]
    return None
