"""The full chaos run: every fault injected while signed events stream through Deskpilot.

Default: a short run (< 2 min, like CI). ``--full``: 400 tickets (~1,300 deliveries) at
20 events/s. Prints sent, accepted, processed, retried, lost (must be 0), doubled (must be 0)
and every problem found; exits 1 when anything was lost or doubled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.run import ChaosConfig, run_chaos  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--full", action="store_true", help="400 tickets at 20 events/s")
    p.add_argument("--tickets", type=int, default=None)
    p.add_argument("--rate", type=float, default=None)
    p.add_argument("--fault-rate", type=float, default=0.3)
    p.add_argument("--drain", type=float, default=None, help="drain timeout, seconds")
    p.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    args = p.parse_args()
    cfg = ChaosConfig(
        tickets=args.tickets or (400 if args.full else 30),
        rate=args.rate or (20.0 if args.full else 10.0),
        fault_rate=args.fault_rate,
        # a backlog left by a slow (shared) machine must drain before the audit
        drain_timeout=args.drain or (900.0 if args.full else 60.0),
    )
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    result = run_chaos(cfg, args.workdir)
    figures = {k: v for k, v in result.figures.items() if k != "unprocessed_ids"}
    print(json.dumps(figures, indent=2, default=str))
    # the rarest problems first: a doubled debit must not hide behind a backlog
    by_kind = sorted(result.problems, key=lambda p: p.startswith("not processed"))
    for problem in by_kind[:200]:
        print("problem:", problem)
    if args.workdir:
        (args.workdir / "problems.txt").write_text("\n".join(result.problems) + "\n")
    print("chaos:", result.line())
    return 0 if result.lost == 0 and result.doubled == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
