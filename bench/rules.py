# ruff: noqa: E402
"""Rules engine figures: load+validate a 200-rule file, evaluation median per event.

Run: ``.venv/bin/python bench/rules.py [--full]``
"""

from __future__ import annotations

import sys
from pathlib import Path

# this script is named rules.py: drop bench/ from the path so `rules` is the package
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from rules.casetest import build_event
from rules.decision import State
from rules.engine import evaluate
from rules.generic_event import event_from_dict
from rules.loader import load_rules
from rules.state_json import state_from_json

CONFIG = Path(__file__).resolve().parents[1] / "config"


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="more repetitions")
    args = ap.parse_args()
    reps = 20 if args.full else 5
    with tempfile.TemporaryDirectory() as d:
        config = big_config(Path(d), 200)
        loads = []
        for _ in range(reps):
            t = time.perf_counter()
            rules = load_rules(config)
            loads.append(time.perf_counter() - t)
        print(f"200-rule config load+validate: median {statistics.median(loads) * 1000:.1f} ms")
    rules = load_rules(CONFIG)
    t0 = datetime.fromisoformat("2026-11-23T10:00:00+02:00")
    events = []
    for i in range(200):
        at = (t0 + timedelta(minutes=37 * i)).isoformat()
        events.append(
            event_from_dict(
                build_event(
                    {
                        "occurred_at": at,
                        "ticket": {
                            "created_at": at,
                            "subject": f"Question {i}",
                            "tags": ["bug"] if i % 5 == 0 else [],
                        },
                    },
                    {},
                )
            )
        )
    state = state_from_json({"company": {"id": "acme", "known": True, "credits_available": 9}})
    for label, st in (("filing (empty state)", State()), ("filing (known company)", state)):
        times = []
        for _ in range(reps):
            for ev in events:
                t = time.perf_counter()
                evaluate(rules, ev, st, ev.occurred_at, explain=False)
                times.append(time.perf_counter() - t)
        print(
            f"evaluate, {label}: median {statistics.median(times) * 1e6:.0f} µs, "
            f"p90 {statistics.quantiles(times, n=10)[-1] * 1e6:.0f} µs over {len(times)}"
        )
    big = load_rules(big_config(Path(tempfile.mkdtemp()), 200))
    times = []
    for ev in events:
        t = time.perf_counter()
        evaluate(big, ev, State(), ev.occurred_at, explain=False)
        times.append(time.perf_counter() - t)
    print(
        f"evaluate against the 200-rule config (no match, all 200 tried): "
        f"median {statistics.median(times) * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    main()
