"""The receiver's one-trip enqueue rebuilds rq's job hash: fenced to the rq it was tested on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import rq

from plugin.queue import RQ_TESTED, rq_tested

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_rq_is_one_the_job_hash_writer_was_tested_on() -> None:
    assert rq_tested(rq.__version__)


def test_pyproject_pins_rq_to_the_tested_range() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in deps if re.match(r"rq\b", d)]
    low, high = RQ_TESTED
    assert pin == f"rq>={low[0]}.{low[1]},<{high[0]}.{high[1]}"


def test_the_fence_bounds() -> None:
    assert rq_tested("2.0.0") and rq_tested("2.12.0") and rq_tested("3.0.5")
    assert rq_tested("3.0.1rc1")
    assert not rq_tested("1.16.2") and not rq_tested("3.1.0") and not rq_tested("4.0.0")
    assert not rq_tested("unknown")
