"""The rules loader fed mutated YAML never crashes and reports every problem at file:line:col.

Each case damages one shipped file (a rules file, ``calendars.yaml`` or ``plans.yaml``) in a
copy of ``config/`` and runs ``rules.config.loader.check`` and ``load_rules`` on it.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.config.loader import check, load_rules
from rules.config.source import SourceError
from tests.fuzz.mutate import mutate_yaml

CONFIG = Path(__file__).resolve().parents[2] / "config"
WHERE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): ")


def targets() -> list[Path]:
    return sorted((CONFIG / "rules").glob("*.yaml")) + [CONFIG / "calendars.yaml",
                                                        CONFIG / "plans.yaml"]


def assert_located(problems: list, config: Path) -> None:
    for p in problems:
        text = str(p)
        m = WHERE.match(text)
        assert m, f"not file:line:col: {text!r}"
        assert int(m["line"]) >= 1 and int(m["col"]) >= 1, text
        assert Path(m["file"]).resolve().is_relative_to(config.resolve()), text


def run_case(config: Path, target: Path, rng: random.Random) -> list:
    """Damage ``target``'s copy under ``config``; check and load; return the problems."""
    rel = target.relative_to(CONFIG)
    (config / rel).write_text(mutate_yaml(target.read_text(encoding="utf-8"), rng),
                              encoding="utf-8", errors="surrogatepass")
    try:
        problems = check(config)
        assert_located(problems, config)
        try:
            load_rules(config)
        except SourceError as exc:
            assert exc.problems, "SourceError without problems"
            assert_located(list(exc.problems), config)
        return problems
    finally:
        shutil.copy(target, config / rel)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("fuzz-config") / "config"
    shutil.copytree(CONFIG, dest)
    return dest


@pytest.mark.parametrize("target", targets(), ids=lambda p: p.name)
def test_mutated_yaml_never_crashes_and_is_located(config, target):
    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(rng=st.randoms(use_true_random=False))
    def case(rng: random.Random) -> None:
        run_case(config, target, rng)

    case()


def test_the_shipped_config_is_clean(config):
    assert [p for p in check(config) if p.severity == "error"] == []
