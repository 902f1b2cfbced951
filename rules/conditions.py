"""Conditions: ``{field, op, value}`` leaves under ``all`` / ``any`` / ``not``, compiled at load.

Compiling checks every field name and operator (with "did you mean"), compiles regexes and
turns each leaf into a closure, so evaluation does no parsing. ``trace`` gives explain its
per-leaf view: field, op, value, actual value, ok.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from rules.config.source import PathKey, Problem, Source, did_you_mean
from rules.fields import RAW_COLLECTIONS, Context, Getter, field_names, resolve


def _lower(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _contains(actual: Any, value: Any) -> bool:
    if isinstance(actual, str):
        # keywords are matched case-insensitively: admins write them in any case
        return isinstance(value, str) and value.lower() in actual.lower()
    if isinstance(actual, (list, tuple, set, frozenset)):
        return _lower(value) in {_lower(a) for a in actual}
    return False


def _cmp(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def op(actual: Any, value: Any) -> bool:
        if actual is None:
            return False
        try:
            return fn(actual, value)
        except TypeError:
            return False

    return op


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, v: a == v,
    "ne": lambda a, v: a != v,
    "in": lambda a, v: a in v,
    "not_in": lambda a, v: a not in v,
    "contains": _contains,
    "contains_any": lambda a, v: any(_contains(a, x) for x in v),
    "contains_all": lambda a, v: all(_contains(a, x) for x in v),
    "matches": lambda a, v: a is not None and v.search(str(a)) is not None,
    "startswith": lambda a, v: isinstance(a, str) and a.lower().startswith(str(v).lower()),
    "gt": _cmp(lambda a, v: a > v),
    "ge": _cmp(lambda a, v: a >= v),
    "lt": _cmp(lambda a, v: a < v),
    "le": _cmp(lambda a, v: a <= v),
    "exists": lambda a, v: (a is not None and a != [] and a != "") == bool(v),
    "between": _cmp(lambda a, v: v[0] <= a <= v[1]),
}
_LIST_OPS = {"in", "not_in", "contains_any", "contains_all"}
_GROUPS = ("all", "any", "not")


class Condition:
    """A compiled condition."""

    def test(self, ctx: Context) -> bool:
        raise NotImplementedError

    def trace(self, ctx: Context) -> list[dict[str, Any]]:
        raise NotImplementedError


def _lowered(values: Any) -> Any:
    """Lower-cased text values; lists of text as a set (one pass per evaluation)."""
    if isinstance(values, str):
        return values.lower()
    if isinstance(values, (list, tuple, set, frozenset)):
        if not values:
            return values
        return {v.lower() if isinstance(v, str) else v for v in values}
    return None


def _specialised(op: str, value: Any) -> Callable[[Any], bool] | None:
    """A faster predicate for the keyword operators, with the value lower-cased at load.

    Same answers as :data:`OPERATORS` (the explain trace still uses those).
    """
    if op == "contains" and isinstance(value, str):
        needle = value.lower()

        def contains(actual: Any) -> bool:
            low = _lowered(actual)
            return low is not None and needle in low

        return contains
    if op == "contains_any" and all(isinstance(v, str) for v in value):
        needles = tuple(v.lower() for v in value)

        def contains_any(actual: Any) -> bool:
            low = _lowered(actual)
            return low is not None and any(n in low for n in needles)

        return contains_any
    if op == "eq":
        return lambda actual: bool(actual == value)
    if op == "in" and all(isinstance(v, str) for v in value):
        members = frozenset(value)
        return lambda actual: actual in members if isinstance(actual, str) else actual in value
    return None


class Leaf(Condition):
    """``{field, op, value}``; ``test`` is one closure built at load."""

    def __init__(self, field: str, op: str, value: Any, getter: Getter, shown: Any) -> None:
        self.field, self.op, self.value, self.shown = field, op, value, shown
        self.getter, self.fn = getter, OPERATORS[op]
        fast = _specialised(op, value)
        if fast is not None:
            if op in ("contains", "contains_any"):
                getter = RAW_COLLECTIONS.get(field, getter)
            self.test = lambda ctx: fast(getter(ctx))  # type: ignore[method-assign]
        else:
            fn = self.fn
            self.test = lambda ctx: bool(fn(getter(ctx), value))  # type: ignore[method-assign]

    def test(self, ctx: Context) -> bool:
        return bool(self.fn(self.getter(ctx), self.value))

    def trace(self, ctx: Context) -> list[dict[str, Any]]:
        actual = self.getter(ctx)
        ok = bool(self.fn(actual, self.value))
        return [
            {"field": self.field, "op": self.op, "value": self.shown, "actual": actual, "ok": ok}
        ]


class Group(Condition):
    """``all`` / ``any`` / ``not`` over compiled children."""

    def __init__(self, kind: str, children: Sequence[Condition]) -> None:
        self.kind, self.children = kind, tuple(children)

    def test(self, ctx: Context) -> bool:
        if self.kind == "all":
            for c in self.children:
                if not c.test(ctx):
                    return False
            return True
        if self.kind == "any":
            for c in self.children:
                if c.test(ctx):
                    return True
            return False
        return not self.children[0].test(ctx)

    def trace(self, ctx: Context) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for child in self.children:
            out += child.trace(ctx)
        if self.kind == "all":
            return out
        # an any/not group reports its own verdict too, so explain shows why it held
        return [{"group": self.kind, "ok": self.test(ctx), "conditions": out}]


class Always(Condition):
    """No ``when``: always true (a catch-all)."""

    def test(self, ctx: Context) -> bool:
        return True

    def trace(self, ctx: Context) -> list[dict[str, Any]]:
        return []


ALWAYS = Always()


def compile_condition(src: Source, raw: Any, path: PathKey, problems: list[Problem]) -> Condition:
    """Compile ``raw`` (a mapping, or a list meaning ``all``); problems are appended."""
    if raw is None:
        return ALWAYS
    if isinstance(raw, list):
        return Group(
            "all", [compile_condition(src, r, (*path, i), problems) for i, r in enumerate(raw)]
        )
    if not isinstance(raw, dict):
        problems.append(src.problem(path, "a condition must be a mapping like {field, op, value}"))
        return ALWAYS
    groups = [k for k in raw if k in _GROUPS]
    if groups:
        if len(raw) != 1:
            extra = sorted(str(k) for k in raw if k != groups[0])
            problems.append(
                src.problem(path, f"'{groups[0]}' stands alone; move {extra} inside it")
            )
        kind = groups[0]
        body = raw[kind]
        if kind == "not":
            return Group("not", [compile_condition(src, body, (*path, kind), problems)])
        if not isinstance(body, list) or not body:
            problems.append(src.problem((*path, kind), f"'{kind}' takes a non-empty list"))
            return ALWAYS
        kids = [compile_condition(src, r, (*path, kind, i), problems) for i, r in enumerate(body)]
        return Group(kind, kids)
    return _leaf(src, raw, path, problems)


def _leaf(src: Source, raw: dict, path: PathKey, problems: list[Problem]) -> Condition:
    for key in raw:
        if key not in ("field", "op", "value"):
            hint = did_you_mean(str(key), ["field", "op", "value", *_GROUPS])
            problems.append(src.problem((*path, key), f"unknown key '{key}'{hint}"))
    name, op = raw.get("field"), raw.get("op", "eq")
    if not isinstance(name, str):
        problems.append(src.problem(path, "a condition needs 'field' (e.g. ticket.tags)"))
        return ALWAYS
    getter = resolve(name)
    if getter is None:
        hint = did_you_mean(name, field_names())
        problems.append(src.problem((*path, "field"), f"unknown field '{name}'{hint}"))
        return ALWAYS
    if op not in OPERATORS:
        hint = did_you_mean(str(op), OPERATORS)
        problems.append(src.problem((*path, "op"), f"unknown operator '{op}'{hint}"))
        return ALWAYS
    if "value" not in raw and op != "exists":
        problems.append(src.problem(path, f"operator '{op}' needs a 'value'"))
        return ALWAYS
    value = raw.get("value", True)
    shown = value
    vpath = (*path, "value")
    if op in _LIST_OPS and not isinstance(value, list):
        problems.append(src.problem(vpath, f"operator '{op}' takes a list, e.g. [a, b]"))
        return ALWAYS
    if op == "between" and not (isinstance(value, list) and len(value) == 2):
        problems.append(src.problem(vpath, "operator 'between' takes [low, high]"))
        return ALWAYS
    if op == "matches":
        try:
            value = re.compile(str(value))
        except re.error as exc:
            problems.append(src.problem(vpath, f"invalid regular expression: {exc}"))
            return ALWAYS
    if op in ("gt", "ge", "lt", "le") and not isinstance(value, (int, float, str)):
        problems.append(src.problem(vpath, f"operator '{op}' compares with a number or a time"))
        return ALWAYS
    return Leaf(name, op, value, getter, shown)


def is_catch_all(cond: Condition) -> bool:
    """True when ``cond`` always holds (no ``when``), so later rules are unreachable."""
    return cond is ALWAYS or (
        isinstance(cond, Group)
        and cond.kind == "all"
        and all(is_catch_all(c) for c in cond.children)
    )
