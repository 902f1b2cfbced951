"""YAML source files with line/column marks, and the problems found in them.

Rules and calendars are a user interface: every problem must point at
``file:line:col``. PyYAML's composed nodes carry marks, so the loader composes
the document (C loader when available) and builds plain Python data alongside
a map from key path to position.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is ~7x faster and keeps marks on composed nodes
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the libyaml build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem in a source file, printed as ``file:line:col: path: message``."""

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {self.path or '<root>'}: {prefix}{self.message}"


class SourceError(Exception):
    """Raised when a source file has errors; carries every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Source:
    """Parsed YAML data plus the position of every key path in it."""

    file: str
    data: Any
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Iterable[str | int]) -> tuple[int, int]:
        """The (line, col) of the deepest known prefix of ``path`` (1-based)."""
        key = tuple(path)
        while key:
            if key in self.marks:
                return self.marks[key]
            key = key[:-1]
        return self.marks.get((), (1, 1))

    def problem(self, path: Iterable[str | int], message: str, severity: str = "error") -> Problem:
        key = tuple(path)
        line, col = self.where(key)
        return Problem(self.file, line, col, dotted(key), message, severity)


def dotted(path: Iterable[str | int]) -> str:
    """``("rules", 3, "when")`` -> ``rules[3].when``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ``did you mean 'x'?`` suffix, or an empty string."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _build(
    node: yaml.Node, path: PathKey, marks: dict[PathKey, tuple[int, int]], loader: Any
) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, loader)
            if isinstance(key, (list, dict)):
                raise yaml.MarkedYAMLError(
                    problem="a mapping key must be a plain value",
                    problem_mark=key_node.start_mark,
                )
            if key in out:
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key '{key}'", problem_mark=key_node.start_mark
                )
            child = (*path, key if isinstance(key, int) else str(key))
            out[key] = _build(value_node, child, marks, loader)
            # a key's own position is more useful than its value's for "unknown key"
            marks[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), marks, loader) for i, item in enumerate(node.value)]
    return _scalar(node, loader)


_STR_TAG = "tag:yaml.org,2002:str"


def _scalar(node: yaml.Node, loader: Any) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return [] if isinstance(node, yaml.SequenceNode) else {}
    if node.tag == _STR_TAG:
        return node.value  # what SafeConstructor builds for a string, without its dispatch
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:
        # e.g. an impossible date like 2026-02-30: report it where it stands
        raise yaml.MarkedYAMLError(
            problem=f"invalid value {node.value!r}: {exc}", problem_mark=node.start_mark
        ) from exc


def parse_text(text: str, file: str = "<string>") -> Source:
    """Parse YAML text into a :class:`Source`; syntax errors become a SourceError."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SourceError([Problem(file, line, col, "", f"YAML syntax: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise SourceError([Problem(file, 1, 1, "", f"YAML syntax: {exc}")]) from exc
    marks: dict[PathKey, tuple[int, int]] = {}
    if node is None:
        return Source(file, None, {(): (1, 1)})
    loader = _Loader("")
    try:
        data = _build(node, (), marks, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SourceError([Problem(file, line, col, "", str(exc.problem))]) from exc
    except yaml.YAMLError as exc:
        raise SourceError([Problem(file, 1, 1, "", f"YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    return Source(file, data, marks)


def load_file(path: str | Path) -> Source:
    """Read and parse one YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError([Problem(str(p), 1, 1, "", f"cannot read: {exc}")]) from exc
    return parse_text(text, str(p))


def expect_mapping(src: Source, value: Any, path: PathKey, problems: list[Problem]) -> Mapping:
    """Return ``value`` if it is a mapping, else record a problem and return ``{}``."""
    if isinstance(value, Mapping):
        return value
    problems.append(src.problem(path, f"must be a mapping, got {type(value).__name__}"))
    return {}
