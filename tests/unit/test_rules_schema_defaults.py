"""The rules schemas are the only source of a setting's default (issue 18): a section no
file gives compiles to what its schema loads from nothing, plans.yaml's defaults come from
its one schema for the ledger and the engine alike, and compile repeats no default."""

from __future__ import annotations

import ast
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from plugin.ledger.plans import parse_plans
from rules.config.loader import load_rules
from rules.config.model import Plan
from rules.config.plans_schema import PlanSchema, PlansSchema
from rules.config.schema import UnknownCompanySchema, defaults_of, section_defaults

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("defaults", "overrides", "acceptance", "timers", "routing")


def _config(tmp_path: Path, plans: str | None = None, drop: tuple[str, ...] = ()) -> Path:
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config, ignore=shutil.ignore_patterns("tests"))
    for f in (config / "rules").glob("*.yaml"):
        data = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for key in drop:
            data.pop(key, None)
        f.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if plans is not None:
        (config / "plans.yaml").write_text(plans, encoding="utf-8")
    return config


def test_absent_sections_compile_to_their_schema_defaults(tmp_path: Path) -> None:
    rules = load_rules(_config(tmp_path, drop=SECTIONS))
    d = section_defaults("defaults")
    assert (rules.default_type, rules.default_calendar, rules.language) == (
        d["type"], d["calendar"], d["language"],
    )  # fmt: skip
    assert d["team_calendar"] is None and rules.team_calendar == d["calendar"]
    assert rules.overrides == section_defaults("overrides")
    a = section_defaults("acceptance")
    assert (rules.accept_status, rules.accept_by, rules.accept_on_fields) == (
        a["status"], frozenset(a["by"]), a["on_fields"],
    )  # fmt: skip
    t = section_defaults("timers")
    assert rules.acceptance_overdue is t["acceptance_overdue"] is True
    assert rules.breach_before_minutes is None and t["breach_warning"] is None
    assert rules.company_manager == {} and section_defaults("routing")["managers"] == {}


def test_a_credits_section_without_unknown_company_takes_its_schema_defaults(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    service = config / "rules" / "00-service.yaml"
    data = yaml.safe_load(service.read_text(encoding="utf-8"))
    data["credits"] = {}
    service.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rules = load_rules(config)
    unknown = defaults_of(UnknownCompanySchema)
    assert (rules.no_account_flag, rules.no_account_template) == (
        unknown["flag"], unknown["template"],
    ) == ("no_account", None)  # fmt: skip


def test_plans_defaults_come_from_the_one_plans_schema(tmp_path: Path) -> None:
    text = (
        "default_plan: basic\nenhancement: {rate_per_hour: 40}\n"
        "plans:\n  basic: {}\n  lax: {low_balance_threshold: 'x'}\n"
    )
    rules = load_rules(_config(tmp_path, plans=text, drop=("credits",)))
    p = defaults_of(PlanSchema)
    engine = Plan(p["on_insufficient"], p["low_balance_threshold"], p["held_resolved"])
    assert rules.plans["basic"] == engine == Plan("hold", 2, "overdraft")
    assert rules.plans["lax"] == engine  # a wrong value: the engine keeps the default
    ledger = parse_plans(yaml.safe_load(text.replace("  lax: {low_balance_threshold: 'x'}\n", "")))
    basic = ledger.get("basic")
    assert {k: getattr(basic, k) for k in p} == p
    enh = PlansSchema().load({"plans": {}})["enhancement"]
    assert (enh["rate_per_hour"], enh["currency"]) == (Decimal("30"), "USD")
    assert (ledger.enhancement_rate, ledger.enhancement_currency) == (Decimal("40"), "USD")
    assert parse_plans({"plans": {"standard": {}}}).enhancement_rate == enh["rate_per_hour"]
    assert (ledger.no_account, rules.default_plan) == ("flag", "basic")


def test_an_unnamed_default_plan_is_the_schema_defaults(tmp_path: Path) -> None:
    plans = "enhancement: {rate_per_hour: 40}\nplans:\n  gold: {on_insufficient: overdraft}\n"
    rules = load_rules(_config(tmp_path, plans=plans, drop=("credits",)))
    assert rules.default_plan == PlansSchema().load({"plans": {}})["default_plan"] == "standard"
    assert rules.plan(None) == Plan("hold", 2, "overdraft")
    assert rules.plan("gold") == Plan("overdraft", 2, "overdraft")


@pytest.mark.parametrize("module", ["compile.py"])
def test_compile_repeats_no_default(module: str) -> None:
    """No ``x.get(key, <literal>)`` and no ``x.get(key) or <literal>`` in the compiler."""
    tree = ast.parse((ROOT / "rules" / "config" / module).read_text(encoding="utf-8"))

    def a_default(node: ast.expr) -> bool:
        # a value, not "absent" (None, an empty container: a section no file gives)
        if isinstance(node, ast.Constant):
            return node.value not in (None, "", 0)
        if isinstance(node, ast.Dict):  # written out: {"status": "accepted", ...}
            return bool(node.values) and all(isinstance(v, ast.Constant) for v in node.values)
        if isinstance(node, ast.List):  # written out: ["simple"]
            return bool(node.elts) and all(isinstance(v, ast.Constant) for v in node.elts)
        return False

    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get" and len(node.args) == 2
                and a_default(node.args[1])):  # fmt: skip
            found.append(ast.unparse(node))
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            if a_default(node.values[-1]):
                found.append(ast.unparse(node))
    assert found == []


def test_each_plan_keeps_its_own_policy_unless_the_rules_set_one(tmp_path: Path) -> None:
    """The shipped credits section names no policy ("come from the company's plan"): the
    engine sees each plan's own, overdraft included; a policy given there overrides all."""
    shipped = load_rules(ROOT / "config")
    assert shipped.plan("overdraft") == Plan("overdraft", 2, "overdraft")
    assert shipped.plan("standard") == Plan("hold", 2, "overdraft")
    config = _config(tmp_path)
    service = config / "rules" / "00-service.yaml"
    data = yaml.safe_load(service.read_text(encoding="utf-8"))
    data["credits"].update(on_insufficient="hold", low_balance=4)
    service.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rules = load_rules(config)
    assert {p.on_insufficient for p in rules.plans.values()} == {"hold"}
    assert {p.low_balance for p in rules.plans.values()} == {4}
