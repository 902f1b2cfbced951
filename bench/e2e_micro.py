"""In-process cost of ``process_event``: SQL statements and milliseconds per event.

Stores events as the receiver does and calls ``plugin.processing.process.process_event``
directly (no Redis, no HTTP), on SQLite and on a throwaway PostgreSQL database, counting
statements with a ``before_cursor_execute`` listener. The mix follows a ticket's life:
filed by the client, accepted as composite with units 2 (credits reserved), a client
comment, resolved (credits debited), for companies that bought credits.

    .venv/bin/python bench/e2e_micro.py                    # 60 tickets (240 events) per db
    .venv/bin/python bench/e2e_micro.py --before 2bb3c4f   # first the code before the cuts
    .venv/bin/python bench/e2e.py --micro                  # the same, from the e2e bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning, team working hours


def _body(ticket: str, event: str, at: datetime, company: str, *, status: str = "new",
          actor: str = "agent", fields: dict[str, Any] | None = None,
          changes: dict[str, Any] | None = None,
          comment: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "event": event, "occurred_at": at.isoformat(),
        "actor": {"kind": actor, "id": "a-1" if actor == "agent" else "u-1"},
        "ticket": {"id": ticket, "created_at": START.isoformat(), "subject": f"Bench {ticket}",
                   "company": {"id": company, "name": company.upper()},
                   "requester": {"id": "u-1", "email": f"u@{company}.example"},
                   "status": status, "priority": "normal", "channel": "email",
                   "custom_fields": fields or {}},
        "changes": changes or {}, "comment": comment,
    }


def lifecycle(ticket: str, company: str, t0: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(kind, body) of one ticket's events in order."""
    comp = {"task_type": "composite", "units": 2}
    return [
        ("created", _body(ticket, "ticket.created", t0, company, actor="client")),
        ("accepted", _body(ticket, "ticket.updated", t0 + timedelta(minutes=5), company,
                           status="accepted", fields=comp,
                           changes={"status": ["new", "accepted"]})),
        ("comment", _body(ticket, "ticket.commented", t0 + timedelta(minutes=20), company,
                          status="accepted", fields=comp, actor="client",
                          comment={"id": f"{ticket}-c1", "body": "Any news?",
                                   "public": True})),
        ("resolved", _body(ticket, "ticket.updated", t0 + timedelta(minutes=50), company,
                           status="resolved", fields=comp,
                           changes={"status": ["accepted", "resolved"]})),
    ]


def _store(ctx: Any, body: dict[str, Any], n: int) -> int:
    from plugin.storage.models import Event, EventState
    from webhooks.hosts import generic

    raw = json.dumps(body).encode()
    headers = {generic.DELIVERY_HEADER: f"micro-{n}"}
    evs = generic.parse(raw, headers, ctx.settings.connection("generic"))
    with ctx.db.session() as s:
        row = Event(connection="generic", delivery_key=f"micro-{n}", body_sha256="x" * 64,
                    received_at=evs[0].occurred_at, headers=headers, body=raw,
                    event_type=evs[0].event, ticket_id=evs[0].ticket.id,
                    occurred_at=evs[0].occurred_at, state=EventState.QUEUED, attempts=0)
        s.add(row)
    return int(row.id)


@contextmanager
def _database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="deskpilot-micro-") as tmp:
            yield f"sqlite:///{tmp}/micro.sqlite3"
        return
    from sqlalchemy import create_engine, text

    name = f"deskpilot_micro_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(kind: str, tickets: int, companies: int = 10) -> dict[str, dict[str, float]]:
    """Process ``tickets`` lifecycles on ``kind``; per event kind: statements and ms."""
    from sqlalchemy import event

    import plugin.tables  # noqa: F401 - every table on Base.metadata
    from plugin import ledger
    from plugin.context import build_context, set_context
    from plugin.processing.process import process_event
    from plugin.settings import load_settings
    from plugin.storage.models import Company

    with _database(kind) as url:
        settings = load_settings(env={}, overrides={
            "database_url": url, "redis_url": None, "config_dir": str(ROOT / "config"),
            "var_dir": "/tmp/deskpilot-micro-var",
            "connections": [{"name": "generic", "kind": "generic",
                             "webhook_secrets": ["micro-secret"], "callback_url": None}],
        })
        ctx = build_context(settings)
        set_context(ctx)
        try:
            ctx.db.create_all()
            with ctx.db.session() as s:
                for c in range(companies):
                    s.add(Company(id=f"c{c}", name=f"C{c}"))
                s.flush()
                for c in range(companies):
                    ledger.purchase(s, f"c{c}", 500, Decimal("350"), "UAH", START)
            plan = []
            n = 0
            for t in range(tickets):
                t0 = START + timedelta(seconds=30 * t)
                for kind_name, body in lifecycle(f"M-{t}", f"c{t % companies}", t0):
                    plan.append((kind_name, _store(ctx, body, n), body))
                    n += 1
            counter = [0]

            def _count(*_: Any) -> None:
                counter[0] += 1

            event.listen(ctx.db.engine, "before_cursor_execute", _count)
            stmts: dict[str, list[int]] = defaultdict(list)
            ms: dict[str, list[float]] = defaultdict(list)
            now = START + timedelta(hours=2)
            # events in ticket order: each ticket's events go one after another, tickets
            # interleaved as a busy hour would deliver them
            order = sorted(plan, key=lambda p: (p[2]["occurred_at"], p[1]))
            for kind_name, event_id, _ in order:
                counter[0] = 0
                started = time.perf_counter()
                state = process_event(event_id, now)
                ms[kind_name].append((time.perf_counter() - started) * 1000)
                stmts[kind_name].append(counter[0])
                assert state == "processed", (kind_name, state)
            event.remove(ctx.db.engine, "before_cursor_execute", _count)
        finally:
            ctx.close()
            set_context(None)
    out: dict[str, dict[str, float]] = {}
    every_s = [x for v in stmts.values() for x in v]
    every_ms = [x for v in ms.values() for x in v]
    for name in [*stmts, "all"]:
        s_list = every_s if name == "all" else stmts[name]
        m_list = every_ms if name == "all" else ms[name]
        out[name] = {"events": len(s_list), "statements": statistics.mean(s_list),
                     "ms": statistics.median(m_list), "ms_mean": statistics.mean(m_list)}
    return out


def report(tickets: int, databases: list[str]) -> None:
    import logging

    # no Redis here: the after-commit push enqueue only logs that it has none
    logging.getLogger("deskpilot.outbox").setLevel(logging.ERROR)
    for kind in databases:
        res = run(kind, tickets)
        print(f"process_event in-process, {kind}: {tickets} tickets")
        print("  event      n   statements/event   ms/event (median, mean)")
        for name, r in res.items():
            print(f"  {name:9s} {r['events']:4.0f}   {r['statements']:16.1f}   "
                  f"{r['ms']:6.2f}, {r['ms_mean']:6.2f}")


def report_before(rev: str, tickets: int, databases: str) -> None:
    """The same bench on the code of git revision ``rev`` (exported to a temporary tree)."""
    import shutil
    import subprocess

    with tempfile.TemporaryDirectory(prefix="deskpilot-before-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        shutil.copy(Path(__file__), Path(tmp) / "bench" / "e2e_micro.py")
        print(f"== before: revision {rev}", flush=True)
        subprocess.run([sys.executable, str(Path(tmp) / "bench" / "e2e_micro.py"),
                        "--tickets", str(tickets), "--db", databases], check=True)
    print("== after: this tree", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=60)
    ap.add_argument("--db", default="sqlite,pg", help="sqlite, pg or both")
    ap.add_argument("--before", metavar="REV",
                    help="first run the same bench on git revision REV (e.g. 2bb3c4f)")
    args = ap.parse_args()
    if args.before:
        report_before(args.before, args.tickets, args.db)
    report(args.tickets, [d.strip() for d in args.db.split(",") if d.strip()])


if __name__ == "__main__":
    main()
