"""YAML test cases for a rule set (``config/tests/*.yaml``): event + time + facts → expectations.

A file has optional ``defaults`` (``event``, ``state``) deep-merged into each case, and
``cases``. A case gives ``event`` (the generic webhook body, partial: ``at`` fills
``occurred_at`` and ``ticket.created_at``), optional ``now``, ``state``, ``timer: true``
(a scheduler tick instead of the event), and ``expect``. Scalar expectations compare with
the ``explain --json`` object, ``facts`` with the ticket facts to store; ``actions``,
``credit_ops`` and ``flags``/``transitions`` must each be found (a subset match);
``absent_actions`` must not be.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rules.config.model import RuleSet
from rules.config.source import SourceError, load_file
from rules.decision import Decision, iso
from rules.engine import evaluate, evaluate_timer
from rules.generic_event import EventError, event_from_dict
from rules.state_json import StateError, state_from_json

BASE_EVENT: dict[str, Any] = {
    "event": "ticket.created",
    "actor": {"kind": "client", "id": "u-1"},
    "ticket": {
        "id": "T-1",
        "company": {"id": "acme", "name": "ACME Ltd"},
        "subject": "Question",
        "tags": [],
        "priority": "normal",
        "status": "new",
        "channel": "portal",
    },
}
LIST_KEYS = ("actions", "credit_ops", "flags", "transitions", "absent_actions")


@dataclass
class CaseResult:
    """The outcome of one case."""

    file: str
    line: int
    name: str
    diffs: list[tuple[str, Any, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.diffs and self.error is None


def merge(base: Any, over: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def _plain(v: Any) -> Any:
    """YAML timestamps become ISO strings, so expectations compare like explain's JSON."""
    if isinstance(v, datetime):
        return iso(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def build_event(
    raw: Mapping[str, Any], defaults: Mapping[str, Any], now: Any = None
) -> dict[str, Any]:
    body = copy.deepcopy(merge(merge(BASE_EVENT, defaults), raw))
    at = body.pop("at", None) or now
    if at is not None:
        body.setdefault("occurred_at", at)
        body["ticket"].setdefault("created_at", at)
    body = _plain(body)
    body["ticket"].setdefault("created_at", body.get("occurred_at"))
    return body


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


def compare(expect: Mapping[str, Any], d: Decision) -> list[tuple[str, Any, Any]]:
    """Differences between ``expect`` and the decision, as (key, expected, actual)."""
    out = d.to_json()
    actual_lists: dict[str, list[Any]] = {
        "actions": out["actions"],
        "credit_ops": [op.to_json() for op in d.credit_ops],
        "flags": list(d.flags),
        "transitions": d.transitions.names(),
    }
    diffs: list[tuple[str, Any, Any]] = []
    for key, want in _plain(dict(expect)).items():
        if key == "absent_actions":
            for item in want:
                hit = [a for a in out["actions"] if _subset(item, a)]
                if hit:
                    diffs.append((f"absent_actions {item}", "absent", hit))
        elif key in actual_lists:
            have = actual_lists[key]
            if want == [] and have:
                diffs.append((key, [], have))
            for item in want:
                if not any(_subset(item, a) for a in have):
                    diffs.append((key, item, have))
        elif key == "facts":
            have_facts = _plain(dict(d.ticket_facts))
            for fk, fv in want.items():
                if have_facts.get(fk) != fv:
                    diffs.append((f"facts.{fk}", fv, have_facts.get(fk)))
        elif key == "cycle":
            if d.cycle != want:
                diffs.append((key, want, d.cycle))
        elif key not in out:
            diffs.append((key, want, "<not a decision field>"))
        elif not _subset(want, out[key]):
            diffs.append((key, want, out[key]))
    return diffs


def run_case(rules: RuleSet, case: Mapping[str, Any], defaults: Mapping[str, Any]) -> Decision:
    body = build_event(case.get("event") or {}, defaults.get("event") or {}, case.get("now"))
    event = event_from_dict(body, connection="test", bounds=rules.bounds)  # as received
    state = state_from_json(_plain(merge(defaults.get("state") or {}, case.get("state") or {})))
    now_raw = case.get("now")
    now = datetime.fromisoformat(_plain(now_raw)) if now_raw is not None else event.occurred_at
    if case.get("timer"):
        return evaluate_timer(rules, event.ticket, state, now)
    return evaluate(rules, event, state, now)


def run_file(rules: RuleSet, path: Path) -> list[CaseResult]:
    try:
        src = load_file(path)
    except SourceError as exc:
        return [CaseResult(str(path), 1, "<file>", error=str(exc))]
    data = src.data if isinstance(src.data, Mapping) else {}
    defaults = data.get("defaults") or {}
    results = []
    for i, case in enumerate(data.get("cases") or []):
        line = src.where(("cases", i))[0]
        name = str(case.get("name") or f"case {i + 1}")
        res = CaseResult(str(path), line, name)
        try:
            decision = run_case(rules, case, defaults)
            res.diffs = compare(case.get("expect") or {}, decision)
        except (EventError, StateError, ValueError, KeyError, TypeError) as exc:
            res.error = f"{type(exc).__name__}: {exc}"
        results.append(res)
    return results


def run_dir(rules: RuleSet, tests_dir: Path) -> list[CaseResult]:
    results: list[CaseResult] = []
    for path in sorted(tests_dir.glob("*.yaml")):
        results += run_file(rules, path)
    return results
