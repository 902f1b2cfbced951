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

#: seconds between looks at the rules files (an edited limit applies this soon)
REFRESH_SECONDS = 5.0
#: per config directory: when it was last looked at, the files' stamp then, the bounds
_cache: dict[Path, tuple[float, tuple[tuple[str, int, int], ...], Bounds]] = {}
_lock = threading.Lock()


def _stamp(config_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of each rules file: what says they changed, for a few stat calls
    (parsing them all, the templates included, held a request for tens of milliseconds)."""
    out = []
    for path in sorted((config_dir / "rules").glob("*.yaml")):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


def bounds_for(config_dir: Path) -> Bounds:
    """The bounds of ``config_dir``: its rules files looked at every :data:`REFRESH_SECONDS`,
    read again only when one of them changed."""
    now = time.monotonic()
    found = _cache.get(config_dir)
    if found is None or now - found[0] >= REFRESH_SECONDS:
        with _lock:
            found = _cache.get(config_dir)
            if found is None or now - found[0] >= REFRESH_SECONDS:
                stamp = _stamp(config_dir)
                bounds = (found[2] if found is not None and found[1] == stamp
                          else read_bounds(config_dir))
                found = _cache[config_dir] = (now, stamp, bounds)
    return found[2]


def check_events(events: Iterable[TicketEvent], config_dir: Path) -> None:
    """Hold each parsed event to the id, text, number and year checks; raise
    :class:`rules.generic_format.FormatError` (a 422 at the receiver) for the first refused."""
    bounds = bounds_for(config_dir)
    for event in events:
        check_event(event)
        check_numbers(event, bounds)
