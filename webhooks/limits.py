"""Numbers from outside held to ``limits.input`` (rules/bounds.py) before anything is stored.

A value out of its range is a 422 naming the field, answered in the request's own time:
no unit count, estimate or time entry can cost a worker more than milliseconds later.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rules.bounds import Bounds, read_bounds
from rules.event import TicketEvent
from webhooks.base import InvalidPayload

#: seconds between re-reads of the rules files (an edited limit applies this soon)
REFRESH_SECONDS = 5.0
_cache: dict[Path, tuple[float, Bounds]] = {}
_lock = threading.Lock()


def bounds_for(config_dir: Path) -> Bounds:
    """The bounds of ``config_dir``, re-read at most every :data:`REFRESH_SECONDS`."""
    now = time.monotonic()
    found = _cache.get(config_dir)
    if found is None or now - found[0] >= REFRESH_SECONDS:
        with _lock:
            found = _cache[config_dir] = (now, read_bounds(config_dir))
    return found[1]


def check_numbers(event: TicketEvent, bounds: Bounds) -> None:
    """Raise 422 for a bounded number out of its range."""
    errors = {f"ticket.custom_fields.{key}": [problem]
              for key, problem in bounds.field_problems(event.ticket.custom_fields).items()}
    if event.time_entry is not None:
        problem = bounds.range("time_minutes").problem(event.time_entry.minutes)
        if problem:
            errors["time_entry.minutes"] = [problem]
    if errors:
        raise InvalidPayload("a number is out of its range (limits.input)", errors)
