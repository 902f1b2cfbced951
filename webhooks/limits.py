"""The receiver's read of ``limits.input`` (rules/bounds.py), refreshed every few seconds,
and :func:`check_events`, what every stored event meets first: a delivered webhook
(``webhooks.receiver``) and a change polled from a host (``plugin.reconcile``) alike.

The checks themselves are :mod:`rules.event_checks` (the same for ``rules explain``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path

from rules.bounds import Bounds, read_bounds
from rules.event import TicketEvent
from rules.event_checks import check_event, check_numbers

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


def check_events(events: Iterable[TicketEvent], config_dir: Path) -> None:
    """Hold each parsed event to the id, text, number and year checks; raise
    :class:`rules.generic_format.FormatError` (a 422 at the receiver) for the first refused."""
    bounds = bounds_for(config_dir)
    for event in events:
        check_event(event)
        check_numbers(event, bounds)
