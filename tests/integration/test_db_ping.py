"""Pooled PostgreSQL connections are pinged when they sat idle, not on every checkout."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from plugin.storage import db as db_mod
from plugin.storage.db import Database

pytestmark = pytest.mark.postgres


def _backend_pid(database: Database) -> int:
    with database.engine.connect() as c:
        return int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _kill(url: str, pid: int) -> None:
    other = create_engine(url)  # outside the pool under test
    try:
        with other.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
    finally:
        other.dispose()


def test_a_busy_connection_is_not_pinged(pg_url, monkeypatch):
    database = Database(pg_url, pool_size=1, max_overflow=0)
    try:
        pid = _backend_pid(database)
        pings: list[str] = []
        real = database.engine.dialect.do_ping
        monkeypatch.setattr(database.engine.dialect, "do_ping",
                            lambda c: pings.append("ping") or real(c))
        for _ in range(5):
            assert _backend_pid(database) == pid
        assert pings == []  # reused within milliseconds: no round trip of its own
    finally:
        database.dispose()


def test_an_idle_connection_whose_server_went_away_is_replaced_unseen(pg_url, monkeypatch):
    database = Database(pg_url, pool_size=2, max_overflow=0)
    try:
        with database.engine.connect() as a, database.engine.connect() as b:
            pid = int(a.execute(text("SELECT pg_backend_pid()")).scalar_one())
            b.execute(text("SELECT 1"))
        _kill(pg_url, pid)
        monkeypatch.setattr(db_mod, "PING_AFTER_IDLE", 0.0)  # every connection "sat idle"
        for _ in range(3):  # whichever pooled connection comes out first, none fails
            assert _backend_pid(database) != pid
    finally:
        database.dispose()


def test_the_receiver_engine_never_pings(pg_url, monkeypatch):
    database = Database(pg_url)
    try:
        monkeypatch.setattr(db_mod, "PING_AFTER_IDLE", 0.0)
        pings: list[int] = []
        monkeypatch.setattr(database.unpinged.dialect, "do_ping",
                            lambda c: pings.append(1) or True)
        for _ in range(3):
            with database.unpinged.connect() as c:
                c.execute(text("SELECT 1"))
        assert pings == []
    finally:
        database.dispose()
