"""The short chaos run (CI): one scenario, its audit checked from several sides.

Own Redis and PostgreSQL on free ports, ``deskpilot serve``/``worker``/``scheduler``
subprocesses, a faulty fake host; the full run is ``python bench/chaos.py --full``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.chaos.audit import Audit
from tests.chaos.run import ChaosConfig, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("runuser") is None,
    reason="needs PostgreSQL's initdb/pg_ctl and runuser for a throwaway cluster")]


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Audit:
    lines: list[str] = []
    result = run_chaos(ChaosConfig(tickets=30, rate=10.0, drain_timeout=40.0),
                       tmp_path_factory.mktemp("chaos"), say=lines.append)
    print("\n".join(lines))
    print("chaos:", result.line())
    return result


def _problems(a: Audit, *words: str) -> list[str]:
    return [p for p in a.problems if any(w in p for w in words)]


def test_every_fault_was_injected_and_the_stream_flowed(chaos: Audit) -> None:
    f = chaos.figures
    assert f["sent"] >= 90 and f["accepted"] > 0.9 * (f["sent"] - 10)
    assert f["restarts"]["worker-0"] + f["restarts"]["worker-1"] >= 1  # the SIGKILL
    assert f["faults"]["worker-sigkill"].endswith("while busy"), f["faults"]
    assert set(f["faults"]) == {"worker-sigkill", "redis-restart", "postgres-restart",
                                "write-failure"}
    assert sum(f["host_faults"].values()) > 0 and f["host_calls"] > f["host_deliveries"]
    assert f["retried"] > 0  # senders saw 503s during the Redis/PostgreSQL outages


def test_nothing_doubled(chaos: Audit) -> None:
    assert chaos.doubled == 0, chaos.problems
    assert not _problems(chaos, "extra", "debit entries", "no outbox batch"), chaos.problems


def test_ledger_invariants(chaos: Audit) -> None:
    assert not _problems(chaos, "entries sum", "debit entries"), chaos.problems


def test_nothing_lost_nothing_stuck(chaos: Audit) -> None:
    assert chaos.lost == 0, chaos.problems
    assert chaos.problems == []


def test_the_figures_the_issue_asks_for(chaos: Audit) -> None:
    f = chaos.figures
    assert (f["lost"], f["doubled"]) == (0, 0), chaos.problems
    assert f["processed"] == f["stored"] >= f["accepted"] > 0
