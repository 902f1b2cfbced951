"""``limits.credits`` of the service rules: what one purchase or adjustment may move.

::

    limits:
      credits:
        max_tasks_per_purchase: 1000000   # tasks in one package
        max_price: 999999999999.99        # price per task, in the package's currency
        max_adjust: 100000                # units one manual adjustment grants or takes

The defaults are :class:`~rules.config.schema.CreditLimitsSchema`'s (the one place they are
written); ``rules check`` reports a bad value at ``file:line:col`` as it does every rules
error, and :func:`read_credit_limits` (the CLI's and the admin API's light read: it does not
compile the whole rule set) raises the same positioned problems instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from rules.config.loader import config_paths, rules_files
from rules.config.schema import CreditLimitsSchema, defaults_of, validate_with
from rules.config.source import Problem, SourceError, load_file

#: where the limits are set, for messages that name them
SECTION = "limits.credits"


@dataclass(frozen=True)
class CreditLimits:
    """The configured maxima (each inclusive)."""

    max_tasks_per_purchase: int
    max_price: Decimal
    max_adjust: int

    @classmethod
    def defaults(cls) -> CreditLimits:
        return cls(**defaults_of(CreditLimitsSchema))

    def tasks_problem(self, tasks: int) -> str | None:
        if tasks > self.max_tasks_per_purchase:
            return (f"at most {self.max_tasks_per_purchase} tasks per purchase "
                    f"({SECTION}.max_tasks_per_purchase)")
        return None

    def price_problem(self, price: Decimal | None) -> str | None:
        if price is not None and price > self.max_price:
            return (f"at most {format(self.max_price.normalize(), 'f')} per task "
                    f"({SECTION}.max_price)")
        return None

    def adjust_problem(self, units: int) -> str | None:
        if abs(units) > self.max_adjust:
            return (f"between -{self.max_adjust} and {self.max_adjust} units per adjustment "
                    f"({SECTION}.max_adjust)")
        return None


def read_credit_limits(config_dir: str | Path) -> CreditLimits:
    """The limits of ``config_dir``'s rules files (the schema's defaults where unset).

    Raises :class:`SourceError` with ``file:line:col`` problems when a rules file cannot be
    read or its ``limits.credits`` is invalid: money limits are never silently widened."""
    _, rules_dir = config_paths(config_dir)
    problems: list[Problem] = []
    raw: dict[str, Any] = {}
    for path in rules_files(rules_dir) if rules_dir.is_dir() else ():
        src = load_file(path)  # a syntax error raises, positioned
        limits = src.data.get("limits") if isinstance(src.data, dict) else None
        section = limits.get("credits") if isinstance(limits, dict) else None
        if section is None:
            continue
        loaded = validate_with(CreditLimitsSchema(), src, section, ("limits", "credits"),
                               problems)
        if loaded is not None:
            raw = loaded
    if problems:
        raise SourceError(problems)
    return CreditLimits(**{**defaults_of(CreditLimitsSchema), **raw})
