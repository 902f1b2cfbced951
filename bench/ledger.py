"""Ledger benchmarks: concurrent reservations+debits on one company (PostgreSQL), statement
rendering, and the state machine for many steps.

    .venv/bin/python bench/ledger.py                  # 1,000 tickets, 10,000-entry statement
    .venv/bin/python bench/ledger.py --machine-steps 100000   # plus the long state-machine run
    .venv/bin/python bench/ledger.py --before 5f9625b  # first the same bench on older code

Statements per ledger call are counted with a ``before_cursor_execute`` listener (the
commit is not a statement and is not counted).

PostgreSQL comes from DESKPILOT_TEST_PG_URL (default: the local server); a throwaway database
is created and dropped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import plugin.tables  # noqa: E402,F401
from plugin import ledger  # noqa: E402
from plugin.ledger.models import CreditAllocation, CreditEntry, EntryKind  # noqa: E402
from plugin.ledger.statement import RENDERERS  # noqa: E402
from plugin.storage import Database  # noqa: E402

PG = os.environ.get("DESKPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def worker(url: str, tickets: list[int], threads: int) -> tuple[int, int]:
    """Reserve and debit each ticket (every ticket is sent by two workers: redeliveries).

    Returns (ledger calls, SQL statements they ran).
    """
    # no pre-ping: its round trip per checkout is the pool's, not the ledger's
    db = Database(url, pool_size=threads, max_overflow=0, pool_pre_ping=False)
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    def one(i: int) -> int:
        now = T0 + timedelta(milliseconds=i)
        with db.session() as s:
            r = ledger.reserve(s, "acme", f"T{i}", 0, 1, now)
            if r.status not in (ledger.RESERVED, ledger.DUPLICATE):
                return 0
        with db.session() as s:
            ledger.complete(s, "acme", f"T{i}", 0, 1, now)
        return 2

    with db.session() as s:  # connect the pool outside the count
        s.execute(text("SELECT 1"))
    event.listen(db.engine, "before_cursor_execute", count)
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(one, tickets))
    event.remove(db.engine, "before_cursor_execute", count)
    db.dispose()
    return done, statements[0]


def concurrency(url: str, tickets: int, procs: int, threads: int) -> None:
    db = Database(url)
    db.create_all()
    with db.session() as s:
        half = tickets // 2
        ledger.purchase(s, "acme", half, Decimal("350"), "UAH", T0 - timedelta(days=80), key="a")
        ledger.purchase(s, "acme", tickets - half, Decimal("350"), "UAH", T0, key="b")
    # each ticket goes to two processes, in different orders
    ids = list(range(tickets))
    shares = [ids[p::procs] for p in range(procs)]
    jobs = [(url, shares[p] + shares[(p + 1) % procs][::-1], threads) for p in range(procs)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(procs) as pool:
        start = time.perf_counter()
        counted = pool.starmap(worker, jobs)
        elapsed = time.perf_counter() - start
    calls = sum(c for c, _ in counted)
    statements = sum(n for _, n in counted)
    with db.session() as s:
        per_ticket = dict(
            s.execute(
                select(CreditEntry.ticket_key, func.count())
                .where(CreditEntry.kind == EntryKind.DEBIT)
                .group_by(CreditEntry.ticket_key)
            ).all()
        )
        bal = ledger.balance(s, "acme")
        negative = s.execute(
            select(func.count()).select_from(
                select(CreditAllocation.lot_id)
                .where(CreditAllocation.lot_id.is_not(None))
                .group_by(CreditAllocation.lot_id)
                .having(func.sum(CreditAllocation.units) < 0)
                .subquery()
            )
        ).scalar_one()
    lost = tickets - len(per_ticket)
    doubled = sum(1 for n in per_ticket.values() if n > 1)
    print(
        f"concurrency: {tickets} tickets x2 deliveries, {procs} processes x {threads} threads "
        f"on one company (PostgreSQL)"
    )
    print(
        f"  {calls} ledger calls in {elapsed:.2f} s = {calls / elapsed:.0f} ops/s "
        f"({tickets / elapsed:.0f} reserve+debit pairs/s), "
        f"{statements / calls:.2f} SQL statements per call (+ commit)"
    )
    print(
        f"  lost {lost}, doubled {doubled}, lots below zero {negative}, "
        f"final balance {bal.balance} reserved {bal.reserved} debt {bal.debt}"
    )
    db.dispose()


def statement_render(url: str, entries: int) -> None:
    db = Database(url)
    with db.session() as s:
        lot = ledger.purchase(s, "big", entries, Decimal("350"), "UAH", T0, key="big").lot
    # bulk rows shaped like reservations and debits (posting 10k through the API is slow)
    rows, moves = [], []
    with db.session() as s:
        first = s.execute(select(func.max(CreditEntry.id))).scalar_one() + 1
        for n in range(entries - 1):
            eid, debit = first + n, n % 2 == 1
            rows.append(
                {
                    "id": eid,
                    "company_id": "big",
                    "key": f"bench:{n}",
                    "kind": EntryKind.DEBIT if debit else EntryKind.RESERVE,
                    "units": -1 if debit else 0,
                    "reserved": -1 if debit else 1,
                    "ticket_key": f"T{n // 2}",
                    "cycle": 0,
                    "task_type": "simple",
                    "posted_at": T0 + timedelta(minutes=n),
                }
            )
            if debit:
                moves.append({"entry_id": eid, "company_id": "big", "lot_id": lot.id, "units": -1})
        s.execute(insert(CreditEntry), rows)
        s.execute(insert(CreditAllocation), moves)
        if s.get_bind().dialect.name == "postgresql":
            s.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('credit_entries', 'id'), "
                    "(SELECT max(id) FROM credit_entries))"
                )
            )
    for fmt, render in RENDERERS.items():
        runs = []
        # three runs each: the first and the best (the machine is shared; the best is the
        # code's cost, the first includes a cold cache)
        for _ in range(3):
            start = time.perf_counter()
            with db.session() as s:
                st = ledger.statement(s, "big")
            out = render(st)
            runs.append(time.perf_counter() - start)
        print(
            f"statement: {len(st.rows)} entries, {fmt}: {runs[0] * 1000:.0f} ms first, "
            f"{min(runs) * 1000:.0f} ms best ({len(out) // 1024} KiB), "
            f"closing balance {st.closing_balance}"
        )
    db.dispose()


def machine(steps: int) -> None:
    from hypothesis import settings
    from hypothesis.stateful import invariant, run_state_machine_as_test

    from tests.unit.test_ledger_machine import LedgerMachine

    counted = {"checks": 0, "examples": 0}

    class Counted(LedgerMachine):
        def __init__(self) -> None:
            super().__init__()
            counted["examples"] += 1

        @invariant()
        def ledger_agrees_with_the_model(self) -> None:
            counted["checks"] += 1
            super().ledger_agrees_with_the_model()

    start = time.perf_counter()
    done = 0
    # hypothesis ends some examples early (about 31 of 40 steps on average): run batches
    # until the steps asked for are done
    while done < steps:
        batch = max(1, min(200, (steps - done) // 30))
        run_state_machine_as_test(
            Counted,
            settings=settings(
                max_examples=batch, stateful_step_count=40, deadline=None, database=None
            ),
        )
        # one check runs before the first step of each example, then one after every step
        done = counted["checks"] - counted["examples"]
    took = time.perf_counter() - start
    print(
        f"state machine: {done} steps in {counted['examples']} runs, {took:.0f} s "
        f"({done / took:.0f} steps/s), every invariant held after every step"
    )


def report_before(rev: str, argv: list[str]) -> None:
    """The same bench on the code of git revision ``rev`` (exported to a temporary tree)."""
    import shutil
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="deskpilot-before-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", rev], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        shutil.copy(Path(__file__), Path(tmp) / "bench" / "ledger.py")
        print(f"== before: revision {rev}", flush=True)
        subprocess.run([sys.executable, str(Path(tmp) / "bench" / "ledger.py"), *argv], check=True)
    print("== after: this tree", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000, help="0: no concurrency run")
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument(
        "--machine-steps",
        type=int,
        default=0,
        help="also run the state machine this long (100000 for the full run)",
    )
    parser.add_argument("--skip-pg", action="store_true", help="only the state machine")
    parser.add_argument(
        "--before", metavar="REV", help="first run the same bench on git revision REV"
    )
    args = parser.parse_args()
    if args.before:
        argv = sys.argv[1:]
        at = argv.index("--before")
        report_before(args.before, argv[:at] + argv[at + 2 :])
    if args.skip_pg:
        machine(args.machine_steps or 4000)
        return
    admin_url = make_url(PG)
    name = f"deskpilot_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        if args.tickets:
            concurrency(url, args.tickets, args.procs, args.threads)
        else:
            Database(url).create_all()
        statement_render(url, args.entries)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if args.machine_steps:
        machine(args.machine_steps)


if __name__ == "__main__":
    main()
