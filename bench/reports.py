"""Time the full quality report over N tickets with metrics, on SQLite and on PostgreSQL.

    .venv/bin/python bench/reports.py            # 20,000 tickets (quick)
    .venv/bin/python bench/reports.py --full     # 100,000 tickets (the issue's figure)

PostgreSQL gets a throwaway database on DESKPILOT_TEST_PG_URL (default the local server),
dropped at the end. The report covers the whole span (about a year): every ticket is in it.
Both databases are measured in the same run; the load average is printed because a busy
machine slows every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from plugin import tables as registry  # noqa: E402, F401
from plugin.reports.report import build_report  # noqa: E402
from plugin.reports.sample import generate  # noqa: E402
from plugin.storage.db import Database  # noqa: E402
from rules.calendar import load_calendars  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KYIV = ZoneInfo("Europe/Kyiv")
START, END = datetime(2025, 12, 1, tzinfo=KYIV), datetime(2026, 12, 1, tzinfo=KYIV)
NOW = datetime(2026, 12, 1, 12, tzinfo=KYIV)


def run(url: str, n: int, repeats: int) -> tuple[float, float, float, int]:
    """(load seconds, median report seconds, median CPU seconds of this process, resolved).

    The CPU figure does not grow with other processes' load: on SQLite it is the whole
    report's cost, on PostgreSQL this side's (the server's work is not in it)."""
    db = Database(url)
    cal = load_calendars(ROOT / "config" / "calendars.yaml")["default"]
    try:
        db.create_all()
        t0 = time.perf_counter()
        with db.session() as session:
            generate(session, n, START, END, seed=1, companies=200)
        if db.dialect == "postgresql":
            # what autovacuum does after a bulk load: statistics, and the visibility map
            # that lets the covering indexes answer without visiting the table
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        load = time.perf_counter() - t0
        times, cpu = [], []
        resolved = 0
        for _ in range(repeats):
            t1, c1 = time.perf_counter(), time.process_time()
            with db.sessions() as session:
                report = build_report(session, START, END, NOW, cal)
                report.to_json()
            times.append(time.perf_counter() - t1)
            cpu.append(time.process_time() - c1)
            resolved = report.kpis["within_1_day"].n
        return load, statistics.median(times), statistics.median(cpu), resolved
    finally:
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="100,000 tickets")
    ap.add_argument("-n", type=int, default=None, help="tickets (default 20,000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    n = args.n or (100_000 if args.full else 20_000)
    print(f"report over {n:,} tickets (a year, 200 companies), median of {args.repeats};"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        load, secs, cpu, resolved = run(f"sqlite:///{tmp}/bench.sqlite3", n, args.repeats)
        print(f"  SQLite      load {load:6.1f} s   report {secs:6.3f} s (CPU {cpu:5.3f} s)"
              f"   ({resolved:,} resolved)")
    if args.no_pg:
        return
    admin_url = make_url(os.environ.get("DESKPILOT_TEST_PG_URL",
                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    name = f"deskpilot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        load, secs, cpu, resolved = run(url, n, args.repeats)
        print(f"  PostgreSQL  load {load:6.1f} s   report {secs:6.3f} s (CPU {cpu:5.3f} s)"
              f"   ({resolved:,} resolved)")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
