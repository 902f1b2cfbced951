"""The process-wide context jobs run in: settings, database, Redis.

Web requests get it from ``app.extensions["deskpilot"]``; RQ jobs call :func:`get_context`,
which builds it once per worker process from the environment (or takes the one a test or
the ``up`` command installed with :func:`set_context`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import redis

from plugin.settings import Settings, load_settings
from plugin.storage.db import Database


@dataclass
class Context:
    """Settings plus the live connections built from them."""

    settings: Settings
    db: Database
    redis_url: str | None
    _redis: redis.Redis | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            if not self.redis_url:
                raise RuntimeError("no Redis URL configured")
            from plugin.queue import connect

            self._redis = connect(self.redis_url)
        return self._redis

    def close(self) -> None:
        self.db.dispose()
        if self._redis is not None:
            self._redis.close()


_lock = threading.Lock()
_current: Context | None = None


def build_context(settings: Settings) -> Context:
    from plugin.reports.metrics import configure  # issue 16: company labels off by default

    configure(settings)
    return Context(settings=settings, db=Database(settings.database_url),
                   redis_url=settings.redis_url)


def set_context(ctx: Context | None) -> None:
    global _current
    with _lock:
        _current = ctx


def get_context() -> Context:
    global _current
    with _lock:
        if _current is None:
            _current = build_context(load_settings())
        return _current
