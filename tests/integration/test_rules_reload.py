"""Hot reload as the workers see it: last good rules kept, every error logged, the metric
raised, a note queued on the admin ticket, and the processing job using the holder."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from plugin import rules_runtime
from plugin.context import build_context, set_context
from plugin.outbox.rows import OutboxRow
from plugin.processing.process import current_rules
from plugin.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    out = tmp_path / "config"
    shutil.copytree(ROOT / "config", out, ignore=shutil.ignore_patterns("tests"))
    return out


@pytest.fixture
def ctx(sqlite_url, config):
    import plugin.tables  # noqa: F401 - every table on Base.metadata

    settings = load_settings(
        env={},
        overrides={
            "database_url": sqlite_url,
            "config_dir": str(config),
            "var_dir": "/tmp/deskpilot-test-var",
            "connections": [
                {"name": "generic", "kind": "generic", "webhook_secrets": ["s3cret-for-tests"]}
            ],
            "rules_admin_ticket": "generic:ADMIN-1",
        },
    )
    c = build_context(settings)
    c.db.create_all()
    set_context(c)
    yield c
    c.close()


def _metric(name: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name) or 0.0


def test_a_bad_edit_keeps_the_last_good_rules_and_tells_the_admin(
    ctx, config: Path, monkeypatch, caplog
) -> None:
    holder = rules_runtime.holder_for(config)
    holder.min_interval = 0
    good = rules_runtime.current(config)
    assert current_rules(ctx) is good  # the processing job asks the same holder
    errors_before = _metric("deskpilot_rules_reload_errors_total")

    broken = config / "rules" / "10-classify.yaml"
    text = broken.read_text(encoding="utf-8")
    broken.write_text(
        text.replace("type: bug", "type: bgu", 1).replace("op: eq", "op: eqq", 1),
        encoding="utf-8",
    )
    with caplog.at_level(logging.ERROR, logger="deskpilot.rules"):
        assert rules_runtime.current(config) is good
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "unknown type 'bgu'" in logged and "unknown operator 'eqq'" in logged
    assert "rules.reload-rejected" in logged and f"keeping={good.version}" in logged
    assert _metric("deskpilot_rules_reload_errors_total") == errors_before + 1
    assert _metric("deskpilot_rules_invalid") == 1
    with ctx.db.session() as s:
        (note,) = s.execute(select(OutboxRow)).scalars()
        assert (note.connection, note.ticket_id) == ("generic", "ADMIN-1")
        assert note.command["type"] == "add_note"
        # in the team's language (the shipped team_language: uk), both problems listed
        body = note.command["data"]["body"]
        head, *problems = body.splitlines()
        assert head.startswith("Зміну правил sha256:") and head.endswith(
            " відхилено (2 помилки); діють попередні правила.")
        assert problems == [str(p) for p in rules_runtime.holder_for(config).errors]
        assert "unknown type 'bgu'" in body and note.command["data"]["visibility"] == "internal"

    # asking again while the files are unchanged neither re-reads nor notes twice
    assert rules_runtime.current(config) is good
    with ctx.db.session() as s:
        assert len(list(s.execute(select(OutboxRow)).scalars())) == 1

    broken.write_text(text + "# fixed\n", encoding="utf-8")
    fixed = rules_runtime.current(config)
    assert fixed is not good and fixed.version != good.version
    assert _metric("deskpilot_rules_invalid") == 0
    assert rules_runtime.describe(holder) == {"version": fixed.version, "errors": []}


def test_without_an_admin_ticket_nothing_is_queued(ctx, config: Path) -> None:
    import dataclasses

    ctx.settings = dataclasses.replace(ctx.settings, rules_admin_ticket=None)
    holder = rules_runtime.holder_for(config)
    holder.min_interval = 0
    good = holder.rules
    (config / "rules" / "99-bad.yaml").write_text("clasify: []\n", encoding="utf-8")
    assert holder.get() is good
    assert "did you mean 'classify'" in str(holder.errors[0])
    with ctx.db.session() as s:
        assert list(s.execute(select(OutboxRow)).scalars()) == []


def test_a_directory_that_never_held_valid_rules_raises(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "00.yaml").write_text("classify: 3\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="no valid rules loaded"):
        rules_runtime.current(tmp_path)
