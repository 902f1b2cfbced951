"""Synthetic tickets with metrics, for the benchmark, the dashboard demo and the tests.

Values are random but plausible (seeded, so reproducible); they are not produced by
``record``, so they exercise the queries, not the recorder.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from plugin.reports.models import TicketMetrics
from plugin.storage.models import Company, Ticket

TYPES = ("simple", "simple", "simple", "composite", "bug", "enhancement", "estimate")
PRIORITIES = ("low", "normal", "normal", "high", "urgent")
MANAGERS = ("ihor", "olena", "taras", "maria")


def generate(
    session: Session, n: int, start: datetime, end: datetime, seed: int = 7,
    companies: int = 40, connection: str = "generic", batch: int = 5000,
) -> None:
    """Insert ``n`` tickets filed in ``[start, end)`` with a metrics row each."""
    rng = random.Random(seed)
    session.execute(insert(Company.metadata.tables["companies"]), [
        {"id": f"co-{c:03d}", "name": f"Company {c}", "manager": MANAGERS[c % 4]}
        for c in range(companies)
    ])
    span = (end - start).total_seconds()
    first_id = 1 + (session.query(Ticket.id).order_by(Ticket.id.desc()).limit(1).scalar() or 0)
    tickets: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    for i in range(n):
        tid = first_id + i
        filed = start + timedelta(seconds=rng.random() * span)
        task_type = rng.choice(TYPES)
        company = rng.randrange(companies)
        # the company's dedicated manager; one ticket in ten is solved by a colleague
        manager = MANAGERS[company % 4] if rng.random() < 0.9 else MANAGERS[i % 4]
        resolved = rng.random() < 0.85
        res_min = round(rng.expovariate(1 / 400), 2)
        resolved_at = filed + timedelta(minutes=res_min * 2.2) if resolved else None
        due = filed + timedelta(hours=rng.choice((8, 16, 24, 40)))
        frt = round(rng.expovariate(1 / 70), 2)
        rated = resolved and rng.random() < 0.4
        scale = 10 if rng.random() < 0.3 else 5
        estimate = rng.choice((2.0, 4.0, 8.0)) if task_type == "enhancement" else None
        status = "resolved" if resolved else rng.choice(("new", "accepted", "in_progress",
                                                        "waiting_client"))
        last = resolved_at or filed + timedelta(hours=rng.random() * 48)
        dims = {"company_id": f"co-{company:03d}", "task_type": task_type,
                "priority": rng.choice(PRIORITIES), "manager": manager}
        tickets.append({
            "id": tid, "connection": connection, "host_ticket_id": f"T-{tid}", **dims,
            "units": 1, "status": status, "subject": f"Request {tid}", "filed_at": filed,
            "resolve_due": due, "resolved_at": resolved_at, "last_event_at": last,
            "facts": {}, "updated_at": last,
        })
        metrics.append({
            "ticket_id": tid, **dims, "clock_start": filed, "last_status": status,
            "accepted_at": filed + timedelta(minutes=20), "accept_minutes": 20.0,
            "accept_breached": int(rng.random() < 0.1),
            "first_response_at": filed + timedelta(minutes=frt * 2),
            "first_response_minutes": frt, "first_response_breached": int(frt > 180),
            "first_resolved_at": resolved_at, "resolved_at": resolved_at,
            "resolution_minutes": res_min if resolved else None,
            "resolved_on_time": (int(resolved_at <= due) if resolved_at else None),
            "resolve_due": due, "resolved_by": manager if resolved else None,
            "closed_at": None, "reopen_count": int(rng.random() < 0.2),
            "messages_client": rng.randint(1, 4), "messages_agent": rng.randint(0, 3),
            "rating_score": (rng.randint(0, 10) if scale == 10 else rng.randint(1, 5))
            if rated else None,
            "rating_scale": scale if rated else None,
            "rated_at": resolved_at + timedelta(hours=2) if rated and resolved_at else None,
            "logged_minutes": rng.randint(10, 700) if estimate else rng.randint(0, 90),
            "estimate_hours": estimate, "paused_minutes": 0.0, "last_activity_at": last,
            "state": {},
        })
        if len(tickets) >= batch:
            _flush(session, tickets, metrics)
    _flush(session, tickets, metrics)
    if session.get_bind().dialect.name == "postgresql":
        # explicit ids leave the serial behind; later inserts must not collide
        session.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'),"
                             " (SELECT max(id) FROM tickets))"))


def _flush(session: Session, tickets: list[dict[str, Any]],
           metrics: list[dict[str, Any]]) -> None:
    # Core executemany on the tables: the ORM's bulk insert splits the batch wherever a
    # row's None columns differ (one statement per run of equal key sets, ~20x slower)
    if tickets:
        pairs = ((Ticket.__tablename__, tickets), (TicketMetrics.__tablename__, metrics))
        for table, rows in pairs:
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite":
                _sqlite_executemany(session, table, rows)
            elif dialect == "postgresql":
                _pg_copy(session, table, rows)
            else:
                session.execute(insert(Ticket.metadata.tables[table]), rows)
    tickets.clear()
    metrics.clear()


def _sqlite_executemany(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Straight to the driver, values in SQLite's storage form (UTC text, JSON text): the
    per-value type processing costs more than the inserts themselves (a 100k-ticket bench)."""
    names = list(rows[0])
    sql = (f"INSERT INTO {table} ({', '.join(names)})"
           f" VALUES ({', '.join('?' for _ in names)})")
    session.connection().exec_driver_sql(sql, [tuple(_stored(r[n]) for n in names) for r in rows])


def _pg_copy(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """``COPY … FROM STDIN`` on the session's psycopg connection (several times faster than
    multi-row INSERTs); aware datetimes go as they are, dicts as JSON text."""
    names = list(rows[0])
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([json.dumps(v) if isinstance(v, dict) else v
                          for v in (r[n] for n in names)])


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        # the text SQLAlchemy's SQLite DateTime writes for UTCDateTime: naive UTC, microseconds
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    if isinstance(value, dict):
        return json.dumps(value)
    return value
