"""Read ``config/``: the rules files, calendars and plans; validate; hash; compile.

``load_rules(config_dir)`` returns a :class:`RuleSet` or raises :class:`SourceError` with
every problem; ``check(path)`` returns all problems (errors and warnings) for the CLI.
The version is the SHA-256 of every file read, so a decision records exactly which
rules made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rules.calendar.coverage import coverage_problems
from rules.companies import FILE as COMPANIES_FILE
from rules.companies import load_companies, merged_languages
from rules.config.compile import compile_ruleset
from rules.config.schema import FILE_SCHEMA, validate_with
from rules.config.source import Problem, Source, SourceError, load_file, parse_text

DICT_SECTIONS = ("types", "templates")
LIST_SECTIONS = ("classify", "policies", "automations")


@dataclass
class Merged:
    """Sections merged from several rules files; each value keeps its source for positions."""

    single: dict[str, tuple[Source, Any]] = field(default_factory=dict)
    dicts: dict[str, dict[str, tuple[Source, Any]]] = field(default_factory=dict)
    lists: dict[str, list[tuple[Source, int, Any]]] = field(default_factory=dict)


def config_paths(path: str | Path) -> tuple[Path, Path]:
    """``(config_dir, rules_dir)`` for either ``config/`` or ``config/rules/``."""
    p = Path(path)
    if (p / "rules").is_dir():
        return p, p / "rules"
    return p.parent, p


def rules_files(rules_dir: Path) -> list[Path]:
    return sorted(p for p in rules_dir.glob("*.yaml") if p.is_file()) + sorted(
        p for p in rules_dir.glob("*.yml") if p.is_file()
    )


def content_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes() if p.exists() else b"")
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def version_of(path: str | Path) -> str:
    """The content hash of a config dir (cheap: reads the files, parses nothing)."""
    config_dir, rules_dir = config_paths(path)
    return content_hash(_inputs(config_dir, rules_dir))


def _inputs(config_dir: Path, rules_dir: Path) -> list[Path]:
    return [*rules_files(rules_dir), config_dir / "calendars.yaml", config_dir / "plans.yaml",
            config_dir / COMPANIES_FILE]


def _merge(sources: list[Source], problems: list[Problem]) -> Merged:
    merged = Merged()
    for src in sources:
        if src.data is None:
            continue
        # YAML 1.1 reads `on:` as true; keep its position under the name admins wrote
        for path, mark in list(src.marks.items()):
            if any(p is True for p in path):
                src.marks[tuple("on" if p is True else p for p in path)] = mark
        data = validate_with(FILE_SCHEMA, src, src.data, (), problems)
        if data is None:
            continue
        for key, value in data.items():
            if key in DICT_SECTIONS:
                bucket = merged.dicts.setdefault(key, {})
                for name, item in value.items():
                    if name in bucket:
                        first = bucket[name][0]
                        line = first.where((key, name))[0]
                        problems.append(
                            src.problem(
                                (key, name), f"'{name}' is already defined in {first.file}:{line}"
                            )
                        )
                    else:
                        bucket[name] = (src, item)
            elif key in LIST_SECTIONS:
                merged.lists.setdefault(key, []).extend(
                    (src, i, item) for i, item in enumerate(value)
                )
            elif key in merged.single and key != "version":
                other = merged.single[key][0]
                problems.append(
                    src.problem((key,), f"section '{key}' is already given in {other.file}")
                )
            else:
                merged.single[key] = (src, value)
    return merged


def _load_plans(config_dir: Path, problems: list[Problem]) -> Source | None:
    path = config_dir / "plans.yaml"
    if not path.exists():
        return None
    try:
        return load_file(path)
    except SourceError as exc:
        problems.extend(exc.problems)
        return None


def _load_calendars(config_dir: Path, problems: list[Problem]
                    ) -> tuple[dict[str, Any], Source | None]:
    from rules.calendar import calendars_from_source

    path = config_dir / "calendars.yaml"
    src = None
    try:
        src = load_file(path) if path.exists() else parse_text(_FALLBACK_CALENDARS, str(path))
        return calendars_from_source(src), src
    except SourceError as exc:
        problems.extend(exc.problems)
        return {}, src


#: used when an install has no calendars.yaml yet: SPEC §2's team calendar
_FALLBACK_CALENDARS = """
calendars:
  default:
    timezone: Europe/Kyiv
    week: {mon-fri: "09:00-18:00"}
"""


def analyse(path: str | Path, today: date | None = None) -> tuple[Any, list[Problem]]:
    """Load everything under ``path``; return ``(RuleSet or None, problems)``.

    ``today`` (``rules check``): also warn about calendars in use with no holiday data for
    this year or the next (:mod:`rules.calendar.coverage`)."""
    config_dir, rules_dir = config_paths(path)
    problems: list[Problem] = []
    files = rules_files(rules_dir)
    if not files:
        problems.append(Problem(str(rules_dir), 1, 1, "", "no rules files (*.yaml) found"))
        return None, problems
    sources: list[Source] = []
    for f in files:
        try:
            sources.append(load_file(f))
        except SourceError as exc:
            problems.extend(exc.problems)
    merged = _merge(sources, problems)
    calendars, cal_src = _load_calendars(config_dir, problems)
    plans = _load_plans(config_dir, problems)
    version = content_hash(_inputs(config_dir, rules_dir))
    ruleset = compile_ruleset(merged, calendars, plans, version, problems, [str(f) for f in files])
    _, languages = load_companies(config_dir, problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    if ruleset is not None and languages:
        ruleset = replace(ruleset, company_language=merged_languages(
            ruleset.company_language, languages))
    if ruleset is not None and today is not None and (config_dir / "calendars.yaml").exists():
        # (the built-in fallback calendar of an install without calendars.yaml is not checked)
        problems.extend(coverage_problems(ruleset, cal_src, today))
    return ruleset, problems


def check(path: str | Path, today: date | None = None) -> list[Problem]:
    """Every problem (errors, then warnings in file order) for ``deskpilot rules check``;
    holiday coverage is checked for ``today``'s year and the next (default: today, UTC)."""
    return analyse(path, today or datetime.now(UTC).date())[1]


def load_rules(path: str | Path) -> Any:
    """The compiled :class:`~rules.config.model.RuleSet`; raises SourceError listing every error."""
    ruleset, problems = analyse(path)
    if ruleset is None:
        raise SourceError([p for p in problems if p.severity == "error"])
    return ruleset
