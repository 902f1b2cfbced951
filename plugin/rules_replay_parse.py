"""Parse stored raw events for ``rules replay``, optionally in helper processes.

Each body goes through its connection's adapter (``webhooks.hosts.ADAPTERS[conn.kind]``),
exactly as the processing job does. The adapters' parsing (schema validation) costs more
than evaluating the rules, so large replays parse chunks in helper processes while this
process folds the results; order is kept (results are taken chunk by chunk, in turn).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rules.event import TicketEvent

#: (connection name, raw body, headers) as stored
Raw = tuple[str, bytes, dict[str, Any]]
#: the events parsed from one stored body, or why it was skipped
Parsed = tuple[str, list[TicketEvent] | None, str | None]

_CONNECTIONS: Mapping[str, Any] = {}


def parse_one(connections: Mapping[str, Any], raw: Raw) -> Parsed:
    """Parse one stored body with its connection's adapter; never raises."""
    from webhooks.hosts import ADAPTERS

    name, body, headers = raw
    conn = connections.get(name)
    if conn is None:
        return name, None, f"connection '{name}' no longer configured"
    adapter = ADAPTERS.get(conn.kind)
    if adapter is None:
        return name, None, f"no adapter for kind '{conn.kind}'"
    try:
        return name, list(adapter.parse(body, headers, conn)), None
    except Exception as exc:  # noqa: BLE001 - a body the adapter refuses is skipped, counted
        return name, None, f"{conn.kind}: {type(exc).__name__}"


def _init(connections: Mapping[str, Any]) -> None:
    global _CONNECTIONS
    _CONNECTIONS = connections


def _parse_chunk(chunk: list[Raw]) -> list[Parsed]:
    return [parse_one(_CONNECTIONS, raw) for raw in chunk]


def parsed(
    chunks: Iterable[list[Raw]], connections: Mapping[str, Any], workers: int = 0
) -> Iterator[Parsed]:
    """The parse of every stored body, in order; ``workers`` helper processes (0: here)."""
    if workers <= 0:
        for chunk in chunks:
            for raw in chunk:
                yield parse_one(connections, raw)
        return
    # spawn, not fork: the caller holds database connections and threads
    mp = multiprocessing.get_context("spawn")
    with mp.Pool(workers, initializer=_init, initargs=(dict(connections),)) as pool:
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_parse_chunk, (chunk,)))
            while len(pending) > workers + 1:  # bounded read-ahead: memory stays flat
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
