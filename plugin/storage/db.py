"""Engine and session factory for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from plugin.storage.clock import utcnow as utcnow  # re-exported: its historic home
from plugin.storage.models import Base

#: instants Deskpilot stores and computes with; outside it, arithmetic (a day added to
#: 9999-12-31) overflows, so user input beyond it is refused as invalid
SUPPORTED_YEARS = range(1970, 3000)


def in_supported_range(at: datetime) -> bool:
    return at.year in SUPPORTED_YEARS


def private_file(path: Path) -> None:
    """Create ``path`` (and a missing parent directory) readable by its owner only: the
    SQLite file holds the ledger and every raw event (0600; the directory 0700). SQLite
    gives its ``-wal`` and ``-shm`` files the database file's mode. An existing file keeps
    the mode its owner gave it."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout serialises writers instead of
    # failing them with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN so two writers never deadlock upgrading read locks;
    # this is how writes are serialised on SQLite (PostgreSQL uses row locks).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the per-dialect settings Deskpilot relies on."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith(
                "file:"):
            private_file(Path(parsed.database))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves

        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if parsed.drivername in {"postgresql", "postgres"}:
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    # SQLAlchemy's pre-ping costs a round trip on every checkout (a worker checks out twice
    # per event); pinging only connections that sat idle keeps the protection where a dead
    # connection is likely (after a pause, a server restart) at a fraction of the cost
    ping = kwargs.pop("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, pool_pre_ping=False, **kwargs)
    if ping:
        ping_when_idle(engine)
    return engine


#: a pooled connection unused for longer than this is pinged before it is handed out
PING_AFTER_IDLE = 2.0
_USED = "deskpilot.used"


def ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for ``PING_AFTER_IDLE``
    seconds; a dead one is replaced before the caller sees it (``DisconnectionError`` makes
    the pool discard it and check out another). A connection that dies while in steady use
    fails its next statement once; SQLAlchemy then invalidates the pool's older connections,
    so the job's retry gets fresh ones."""

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means "do not use this one"
            raise DisconnectionError(f"idle connection failed its ping: {exc}") from exc
        record.info[_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_USED] = time.monotonic()


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._engine_kwargs = engine_kwargs
        self._unpinged: Engine | None = None

    @property
    def unpinged(self) -> Engine:
        """An engine without ``pool_pre_ping``, for one-statement hot paths (the receiver).

        The pre-ping costs a full round trip per checkout; without it a stale pooled
        connection fails one request (answered 503 and redelivered by the host) and the
        pool drops it. SQLite has no pre-ping, so it shares the main engine.
        """
        if self.engine.dialect.name == "sqlite":
            return self.engine
        if self._unpinged is None:
            self._unpinged = make_engine(self.url, **{**self._engine_kwargs,
                                                      "pool_pre_ping": False})
        return self._unpinged

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose statements commit one by one: on PostgreSQL one round trip per
        statement (no BEGIN and COMMIT of their own); on SQLite one transaction around them
        (its ``BEGIN IMMEDIATE`` is how writers queue)."""
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def create_all(self) -> None:
        """Create tables directly (tests); production uses ``deskpilot db upgrade``."""
        Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._unpinged is not None:
            self._unpinged.dispose()
