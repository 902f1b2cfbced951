"""Time one company's cabinet (page and JSON) with 5,000 tasks and 20,000 ledger entries,
on SQLite and on PostgreSQL.

    .venv/bin/python bench/cabinet.py               # both databases, median of 7
    .venv/bin/python bench/cabinet.py --no-pg       # SQLite only

20,000 tickets over four companies (evened so the measured one, ``co-000``, has exactly
5,000, and the indexes hold other companies' rows too), and 20,000 ledger entries of ``co-000``
(purchases, reservations, debits with their lot allocations, expiries). The requests go
through the whole Flask application (link lookup, rules, report, template). Also timed:
a deep statement page (``statement_page=700``), which reads the entries before it by index.
PostgreSQL gets a throwaway database on DESKPILOT_TEST_PG_URL, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from plugin import tables as registry  # noqa: E402, F401
from plugin.app import create_app  # noqa: E402
from plugin.cabinet.links import issue  # noqa: E402
from plugin.context import build_context  # noqa: E402
from plugin.ledger.models import CreditAllocation, CreditEntry, CreditLot  # noqa: E402
from plugin.reports.sample import generate  # noqa: E402
from plugin.settings import load_settings  # noqa: E402
from plugin.storage.models import Ticket  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START, END = datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
COMPANY = "co-000"
TASKS = 5_000


def ledger_rows(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                 list[dict[str, Any]]]:
    """``n`` entries of one company: a 100-task package every 200 entries (each expiring a
    year later), then reserve/debit pairs that take from the newest package."""
    lots, entries, allocs = [], [], []
    step = (END - START) / n
    lot_id = 0

    def entry(eid: int, kind: str, units: int, reserved: int, at: datetime,
              task: str | None = None, lot: int | None = None) -> dict[str, Any]:
        return {"id": eid, "company_id": COMPANY, "key": f"e-{eid}", "kind": kind,
                "units": units, "reserved": reserved, "ticket_key": task,
                "cycle": 0 if task else None, "task_type": "simple" if task else None,
                "lot_id": lot, "posted_at": at}

    for i in range(n):
        at, eid = START + step * i, i + 1
        if i % 200 == 0:
            lot_id += 1
            lots.append({"id": lot_id, "company_id": COMPANY, "tasks": 100,
                         "price_per_task": "350.00", "currency": "UAH", "plan": "standard",
                         "source": "purchase", "purchased_at": at,
                         "expires_at": at + timedelta(days=365), "key": f"lot-{lot_id}"})
            entries.append(entry(eid, "purchase", 100, 0, at, lot=lot_id))
            allocs.append({"entry_id": eid, "company_id": COMPANY, "lot_id": lot_id,
                           "units": 100})
        elif i % 2:
            entries.append(entry(eid, "reserve", 0, 1, at, f"generic:T-{(i + 1) // 2}"))
        else:
            entries.append(entry(eid, "debit", -1, -1, at, f"generic:T-{i // 2}"))
            allocs.append({"entry_id": eid, "company_id": COMPANY, "lot_id": lot_id,
                           "units": -1})
    return lots, entries, allocs


def _exactly(session: Any, n: int) -> None:
    """Move tickets between ``co-000`` and ``co-001`` so ``co-000`` has exactly ``n``."""
    have = session.execute(select(func.count()).select_from(Ticket)
                           .where(Ticket.company_id == COMPANY)).scalar_one()
    src, dst, k = ("co-001", COMPANY, n - have) if have < n else (COMPANY, "co-001", have - n)
    ids = select(Ticket.id).where(Ticket.company_id == src).order_by(Ticket.id).limit(k)
    moved = [r[0] for r in session.execute(ids)]
    for table, col in (("tickets", "id"), ("ticket_metrics", "ticket_id")):
        t = Ticket.metadata.tables[table]
        session.execute(t.update().where(t.c[col].in_(moved)).values(company_id=dst))


def load(url: str, tmp: str) -> Any:
    settings = load_settings(env={}, overrides={
        "database_url": url, "redis_url": None, "config_dir": str(ROOT / "config"),
        "var_dir": tmp, "connections": [{"name": "generic", "kind": "generic",
                                         "webhook_secrets": ["bench-secret"]}]})
    ctx = build_context(settings)
    ctx.db.create_all()
    with ctx.db.session() as session:
        generate(session, 20_000, START, END, seed=3, companies=4)
        lots, entries, allocs = ledger_rows(20_000)
        for model, rows in ((CreditLot, lots), (CreditEntry, entries),
                            (CreditAllocation, allocs)):
            session.execute(insert(model.__table__), rows)
        if ctx.db.dialect == "postgresql":
            for table in ("credit_lots", "credit_entries", "credit_allocations"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                     f" (SELECT max(id) FROM {table}))"))
        _exactly(session, TASKS)
        token = issue(session, COMPANY, NOW).token
        tasks = session.execute(select(func.count()).select_from(Ticket)
                                .where(Ticket.company_id == COMPANY)).scalar_one()
    if ctx.db.dialect == "postgresql":
        with ctx.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return ctx, token, tasks


def timed(client: Any, path: str, repeats: int) -> float:
    client.get(path)  # warm: rules, calendars, templates
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resp = client.get(path)
        times.append(time.perf_counter() - t0)
        assert resp.status_code == 200, (path, resp.status_code, resp.data[:300])
    return statistics.median(times) * 1000


def run(name: str, url: str, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ctx, token, tasks = load(url, tmp)
        loaded = time.perf_counter() - t0
        try:
            client = create_app(context=ctx).test_client()
            with mock.patch("plugin.cabinet.web.utcnow", lambda: NOW):
                page = timed(client, f"/cabinet/{token}", repeats)
                api = timed(client, f"/api/cabinet/{token}", repeats)
                deep = timed(client, f"/api/cabinet/{token}?statement_page=700&page=200",
                             repeats)
                body = client.get(f"/api/cabinet/{token}").get_json()
        finally:
            ctx.close()
    shown = len(body["tasks"]["open"]) + len(body["tasks"]["finished"])
    print(f"  {name:<10}  page {page:6.1f} ms   JSON {api:6.1f} ms   deep pages {deep:6.1f} ms"
          f"   ({tasks:,} tasks, {shown} shown, {len(body['statement']['entries'])} of 20,000"
          f" entries; load {loaded:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    print(f"cabinet of one company, median of {args.repeats};"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.sqlite3", args.repeats)
    if args.no_pg:
        return
    admin_url = make_url(os.environ.get("DESKPILOT_TEST_PG_URL",
                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    db = f"deskpilot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    try:
        run("PostgreSQL", admin_url.set(database=db).render_as_string(hide_password=False),
            args.repeats)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
