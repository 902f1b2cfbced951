"""The receiver's read of ``limits.input`` (rules/bounds.py), refreshed every few seconds.

The check itself is :func:`rules.event_checks.check_numbers` (the same for ``rules explain``).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rules.bounds import Bounds, read_bounds

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
