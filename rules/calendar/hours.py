"""Working-hour windows as admins write them: ``"09:00-13:00, 14:00-18:00"``.

A window is a pair of minutes since local midnight, ``(start, end)`` with
``0 <= start < end <= 1440``; ``24:00`` is allowed as an end so a window can
run to midnight. Parsing returns messages instead of raising so the loader can
report every problem with its file position.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Window = tuple[int, int]
Windows = tuple[Window, ...]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOSED_WORDS = ("closed", "off", "none")

_TIME = r"(\d{1,2}):(\d{2})"
_WINDOW_RE = re.compile(rf"^\s*{_TIME}\s*-\s*{_TIME}\s*$")


def fmt_minutes(minutes: int) -> str:
    """``540`` -> ``"09:00"``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fmt_windows(windows: Windows) -> str:
    """``((540, 1080),)`` -> ``"09:00-18:00"``; no windows -> ``"closed"``."""
    if not windows:
        return "closed"
    return ", ".join(f"{fmt_minutes(s)}-{fmt_minutes(e)}" for s, e in windows)


def parse_window(text: str) -> tuple[Window | None, str | None]:
    """One ``HH:MM-HH:MM`` window, or ``(None, message)``."""
    m = _WINDOW_RE.match(text)
    if not m:
        return None, f"'{text.strip()}' is not a window; write it as HH:MM-HH:MM, e.g. 09:00-18:00"
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59:
        return None, f"'{text.strip()}': start {h1:02d}:{m1:02d} is not a time of day"
    if (h2 > 24 or m2 > 59) or (h2 == 24 and m2 != 0):
        return None, f"'{text.strip()}': end {h2:02d}:{m2:02d} is not a time of day (max 24:00)"
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        return None, (
            f"'{text.strip()}': the window ends before it starts"
            " (split a window that crosses midnight into ...-24:00 and 00:00-...)"
        )
    return (start, end), None


def parse_windows(value: Any) -> tuple[Windows, list[str]]:
    """A day's windows from a string, a list of strings, ``closed`` or null."""
    if value is None:
        return (), []
    if isinstance(value, bool):
        # `off`/`no` unquoted are booleans in YAML 1.1
        return ((), []) if value is False else ((), ["write working hours, e.g. 09:00-18:00"])
    if isinstance(value, int):
        # PyYAML reads an unquoted 18:00 as the sexagesimal integer 1080
        return (), [f'{value!r} is a number; quote times, e.g. "09:00-18:00"']
    parts: Sequence[Any]
    if isinstance(value, str):
        if value.strip().lower() in CLOSED_WORDS:
            return (), []
        parts = [p for p in value.split(",") if p.strip()]
    elif isinstance(value, list):
        parts = value
    else:
        return (), [f'expected windows like "09:00-18:00", got {type(value).__name__}']
    out: list[Window] = []
    errors: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            errors.append(f'expected a window like "09:00-18:00", got {part!r}')
            continue
        window, err = parse_window(part)
        if err:
            errors.append(err)
        elif window:
            out.append(window)
    out.sort()
    for (s1, e1), (s2, e2) in zip(out, out[1:], strict=False):
        if s2 < e1:
            errors.append(
                f"windows {fmt_minutes(s1)}-{fmt_minutes(e1)} and"
                f" {fmt_minutes(s2)}-{fmt_minutes(e2)} overlap"
            )
    return tuple(out), errors


def parse_weekday_key(key: str) -> tuple[list[int], str | None]:
    """``"mon"`` -> ``[0]``; ``"mon-fri"`` -> ``[0..4]``; or ``([], message)``."""
    text = str(key).strip().lower()
    names = [p.strip() for p in text.split("-")] if "-" in text else [text]
    if len(names) > 2 or any(n not in WEEKDAYS for n in names):
        return [], "unknown weekday"
    first, last = WEEKDAYS.index(names[0]), WEEKDAYS.index(names[-1])
    if last < first:
        return [], f"'{key}' runs backwards; write the earlier day first"
    return list(range(first, last + 1)), None


def weekday_choices() -> list[str]:
    """Names offered by did-you-mean for week keys."""
    return [*WEEKDAYS, "mon-fri", "mon-sat", "mon-sun", "sat-sun"]
