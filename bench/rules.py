# ruff: noqa: E402
"""Rules engine figures: 200-rule load+validate, evaluation per event, replay on SQLite.

Run: ``.venv/bin/python bench/rules.py [--full] [--compare [REV]] [--replay N]``

- default: load time of a 200-rule file (C and pure-Python YAML), evaluation medians for
  filings and for a whole lifecycle (create, accept, comment, log time, resolve), the
  200-rule worst case;
- ``--compare REV``: the same evaluation figures for the engine at git revision ``REV``
  (its ``rules/`` package extracted to a temporary directory) and for this tree, measured
  alternately in fresh processes so machine load hits both alike;
- ``--replay N``: store N generic events in a throwaway SQLite database and time
  ``plugin.rules_replay.replay`` over them (dry run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this script is named rules.py: drop bench/ from the path so `rules` is the package;
# --rules-root (used by --compare) puts another revision's package first
_given = sys.argv[sys.argv.index("--rules-root") + 1] if "--rules-root" in sys.argv else None
sys.path[0] = str(ROOT)
if _given:
    sys.path.insert(0, _given)

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timedelta
from typing import Any

CONFIG = ROOT / "config"
#: the engine as the previous engineer left it (before the hot-path work)
BASELINE = "e6f8278"
T0 = datetime.fromisoformat("2026-11-23T10:00:00+02:00")


def big_config(tmp: Path, n: int) -> Path:
    shutil.copytree(CONFIG, tmp / "config", ignore=shutil.ignore_patterns("tests", "deskpilot*"))
    lines = ["classify:"]
    for i in range(n):
        lines += [
            f"  - name: rule-{i}",
            "    when:",
            "      all:",
            f"        - {{field: ticket.tags, op: contains, value: tag-{i}}}",
            f'        - {{field: ticket.subject, op: matches, value: "(?i)word{i}\\\\b"}}',
            "    type: simple",
        ]
    (tmp / "config" / "rules" / "10-classify.yaml").write_text("\n".join(lines) + "\n")
    return tmp / "config"


def load_figures(reps: int) -> dict[str, float]:
    """Median ms to load and validate the 200-rule config, with the C and the pure loader."""
    import yaml

    from rules.config import source
    from rules.config.loader import load_rules

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        config = big_config(Path(d), 200)
        loaders = [("C loader", getattr(yaml, "CSafeLoader", None)), ("pure", yaml.SafeLoader)]
        for label, loader in loaders:
            if loader is None or not hasattr(source, "_Loader"):
                continue
            saved = source._Loader
            setattr(source, "_Loader", loader)  # noqa: B010 - swap the loader for one figure
            try:
                times = []
                for _ in range(reps):
                    t = time.perf_counter()
                    load_rules(config)
                    times.append(time.perf_counter() - t)
            finally:
                setattr(source, "_Loader", saved)  # noqa: B010
            out[label] = statistics.median(times) * 1000
    return out


def _body(i: int, event: str, status: str, actor: str, at: datetime, **extra: Any) -> Any:
    from rules.casetest import build_event

    raw = {
        "event": event,
        "occurred_at": at.isoformat(),
        "actor": {"kind": actor, "id": f"{actor}-1"},
        "ticket": {
            "id": f"T-{i}",
            "created_at": (T0 + timedelta(minutes=37 * i)).isoformat(),
            "subject": f"Question {i}",
            "status": status,
            "tags": ["bug"] if i % 5 == 0 else [],
        },
        **extra,
    }
    return build_event(raw, {})


def lifecycle_bodies(i: int) -> list[Any]:
    """A ticket's usual life: filed, accepted, answered, time logged, resolved."""
    t = T0 + timedelta(minutes=37 * i)
    comment = {"id": "c1", "public": True, "body": "on it", "author": {"kind": "agent"}}
    entry = {"id": "e1", "minutes": 40, "agent_id": "a-1", "billable": True}
    return [
        _body(i, "ticket.created", "new", "client", t),
        _body(
            i,
            "ticket.updated",
            "accepted",
            "agent",
            t + timedelta(minutes=20),
            changes={"status": ["new", "accepted"]},
        ),
        _body(
            i, "ticket.commented", "accepted", "agent", t + timedelta(minutes=30), comment=comment
        ),
        _body(
            i, "time.logged", "in_progress", "agent", t + timedelta(minutes=90), time_entry=entry
        ),
        _body(
            i,
            "ticket.updated",
            "resolved",
            "agent",
            t + timedelta(minutes=120),
            changes={"status": ["in_progress", "resolved"]},
        ),
    ]


def _timed(fn: Any, pairs: list[tuple[Any, Any]], reps: int) -> tuple[float, float, float]:
    """(median wall µs, p90 wall µs, median CPU µs) of ``fn(event, state)`` per pair.

    CPU time (``process_time``) is printed too: on a shared machine the wall clock also
    counts the time other processes held the CPU.
    """
    wall, cpu = [], []
    for _ in range(reps):
        for ev, st in pairs:
            t, c = time.perf_counter(), time.process_time()
            fn(ev, st)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - t)
    p90 = statistics.quantiles(wall, n=10)[-1]
    return statistics.median(wall) * 1e6, p90 * 1e6, statistics.median(cpu) * 1e6


def eval_figures(reps: int) -> dict[str, tuple[float, float, float]]:
    """Label -> (median µs, p90 µs, median CPU µs) of ``evaluate(..., explain=False)``."""
    from rules.config.loader import load_rules
    from rules.decision import State
    from rules.engine import evaluate, with_state
    from rules.generic_event import event_from_dict
    from rules.state_json import state_from_json

    rules = load_rules(CONFIG)
    known = state_from_json({"company": {"id": "acme", "known": True, "credits_available": 99}})
    filings = [event_from_dict(lifecycle_bodies(i)[0]) for i in range(200)]
    steps: list[tuple[Any, Any]] = []  # (event, state before it), folded like a worker
    for i in range(100):
        st = known
        for body in lifecycle_bodies(i):
            ev = event_from_dict(body)
            steps.append((ev, st))
            st = with_state(evaluate(rules, ev, st, ev.occurred_at, explain=False), st)
    cases = {
        "filing, empty state": [(ev, State()) for ev in filings],
        "filing, known company": [(ev, known) for ev in filings],
        "lifecycle (5 events/ticket)": steps,
    }

    def run(ev: Any, st: Any) -> None:
        evaluate(rules, ev, st, ev.occurred_at, explain=False)

    out = {label: _timed(run, pairs, reps) for label, pairs in cases.items()}
    with tempfile.TemporaryDirectory() as d:
        big = load_rules(big_config(Path(d), 200))

    def run_big(ev: Any, st: Any) -> None:
        evaluate(big, ev, st, ev.occurred_at, explain=False)

    out["200-rule config, no rule matches"] = _timed(
        run_big, [(ev, State()) for ev in filings], reps
    )
    return out


def compare(rev: str, reps: int, rounds: int) -> None:
    """Old (``rev``) and new engine, alternately in fresh processes; medians of the rounds."""
    with tempfile.TemporaryDirectory() as d:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "rules"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
        runs: dict[str, list[dict[str, list[float]]]] = {"before": [], "after": []}
        for _ in range(rounds):
            for which, extra in (("before", ["--rules-root", d]), ("after", [])):
                cmd = [sys.executable, __file__, "--eval-json", "--reps", str(reps), *extra]
                env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
                res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                runs[which].append(json.loads(res.stdout))
    print(f"evaluate(explain=False), before = {rev}, after = this tree; median of {rounds} rounds")
    print(
        f"{'µs per event':30} {'wall before':>11} {'after':>6} {'CPU before':>11} {'after':>6}"
        f" {'speed-up':>8}   p90 wall before → after"
    )
    for label in runs["after"][0]:
        b, a = (
            [statistics.median(r[label][i] for r in runs[w]) for i in range(3)]
            for w in ("before", "after")
        )
        print(
            f"{label:30} {b[0]:11.0f} {a[0]:6.0f} {b[2]:11.0f} {a[2]:6.0f} {b[2] / a[2]:7.1f}x"
            f"   {b[1]:.0f} → {a[1]:.0f}"
        )


def replay_figure(n: int, workers: int) -> None:
    """Store ``n`` generic events (5 per ticket) in a throwaway SQLite file; time a replay."""
    from sqlalchemy import insert

    import plugin.tables  # noqa: F401 - every table on Base.metadata
    from plugin.rules_replay import replay_events
    from plugin.settings import load_settings
    from plugin.storage import Company, Database, Event
    from rules.config.loader import load_rules

    with tempfile.TemporaryDirectory() as d:
        settings = load_settings(
            env={},
            overrides={
                "database_url": f"sqlite:///{d}/replay.sqlite3",
                "config_dir": str(CONFIG),
                "var_dir": d,
                "connections": [
                    {"name": "generic", "kind": "generic", "webhook_secrets": ["bench-secret"]}
                ],
            },
        )
        db = Database(settings.database_url)
        db.create_all()
        t = time.perf_counter()
        with db.session() as s:
            s.add_all(Company(id=f"c{k}", name=f"C{k}") for k in range(20))
        rows = []
        for i in range(-(-n // 5)):
            for j, body in enumerate(lifecycle_bodies(i)):
                body["ticket"]["company"] = {"id": f"c{i % 20}", "name": f"C{i % 20}"}
                at = datetime.fromisoformat(body["occurred_at"])
                rows.append(
                    {
                        "connection": "generic",
                        "delivery_key": f"d{i}-{j}",
                        "body_sha256": "0" * 64,
                        "received_at": at,
                        "headers": {},
                        "body": json.dumps(body).encode(),
                        "event_type": body["event"],
                        "ticket_id": body["ticket"]["id"],
                        "occurred_at": at,
                        "state": "processed",
                        "attempts": 1,
                    }
                )
        rows = rows[:n]
        with db.session() as s:
            for k in range(0, len(rows), 5000):
                s.execute(insert(Event), rows[k : k + 5000])
        print(f"stored {len(rows)} events in {time.perf_counter() - t:.1f} s")
        rules = load_rules(CONFIG)
        t, c = time.perf_counter(), time.process_time()
        since = T0 - timedelta(days=1)
        res = replay_events(db, rules, settings, since, progress=sys.stderr, workers=workers)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        db.dispose()
    print(
        f"\nreplay of {res.events} stored events ({res.tickets} tickets, dry run, "
        f"{workers} parsing helper(s)) on SQLite: "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU in this process = "
        f"{wall / max(res.events, 1) * 1e6:.0f} µs/event; "
        f"{len(res.changes)} ticket(s) would change, {res.skipped} skipped"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="more repetitions")
    ap.add_argument(
        "--compare",
        nargs="?",
        const=BASELINE,
        metavar="REV",
        help=f"before/after against git revision REV (default {BASELINE})",
    )
    ap.add_argument("--replay", type=int, metavar="N", help="time replaying N stored events")
    ap.add_argument("--workers", type=int, default=1, help="replay's parsing helpers (default 1)")
    ap.add_argument("--reps", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--eval-json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--rules-root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    reps = args.reps or (20 if args.full else 5)
    if args.eval_json:
        print(json.dumps(eval_figures(reps)))
        return
    if args.replay:
        replay_figure(args.replay, args.workers)
        return
    import timeit

    ref = min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6
    print(f"machine reference: sum(range(1000)) takes {ref:.0f} µs here (scale the figures below)")
    for label, ms in load_figures(reps).items():
        print(f"200-rule config load+validate ({label}): median {ms:.1f} ms")
    if args.compare:
        compare(args.compare, reps, 5 if args.full else 3)
        return
    for label, (med, p90, cpu) in eval_figures(reps).items():
        print(f"evaluate, {label}: median {med:.0f} µs (CPU {cpu:.0f} µs), p90 {p90:.0f} µs")


if __name__ == "__main__":
    main()
