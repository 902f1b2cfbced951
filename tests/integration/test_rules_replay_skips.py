"""``rules replay`` skips a stored event it cannot evaluate, counts it and names it, and replays
the rest (issue 16: an event with a ``created_at`` in year 0001, stored before the receiver
bounded its dates, made the whole replay abort with "year 0 is out of range")."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from plugin.cli import main
from plugin.rules_replay import replay_events
from rules.config.loader import load_rules
from tests.integration.test_rules_replay import CONNECTIONS, ROOT, SINCE, ctx  # noqa: F401
from tests.jobs_support import payload, store


def _stored(ctx) -> tuple[int, int]:  # noqa: F811
    good = store(ctx, payload("T-good", "ticket.created", "2026-11-23T10:00:00+02:00",
                              actor="client"), "good-1")
    bad = store(ctx, payload("T-bad", "ticket.created", "2026-11-23T10:05:00+02:00",
                             created="0001-01-01T00:00:00+02:00", actor="client"), "bad-1")
    return good, bad


def test_an_event_that_cannot_be_evaluated_is_skipped_and_reported(ctx) -> None:  # noqa: F811
    _, bad = _stored(ctx)
    res = replay_events(ctx.db, load_rules(ROOT / "config"), ctx.settings, SINCE)
    assert (res.events, res.skipped, res.tickets) == (2, 1, 1)  # T-good replayed all the same
    # the daily cap reads the filing day first: Python's own overflow, named and counted
    assert res.reasons == {"cannot be evaluated (OverflowError)": 1}
    [(event_id, why)] = res.unevaluated
    assert (event_id, why) == (bad, "generic/T-bad: date value out of range")


def test_the_cli_names_the_skipped_event_and_finishes(ctx, tmp_path: Path) -> None:  # noqa: F811
    _, bad = _stored(ctx)
    settings_file = tmp_path / "deskpilot.yaml"
    settings_file.write_text(json.dumps({"connections": CONNECTIONS}))
    env = {"DESKPILOT_SETTINGS": str(settings_file),
           "DESKPILOT_DATABASE_URL": ctx.settings.database_url,
           "DESKPILOT_CONFIG_DIR": str(ROOT / "config")}
    res = CliRunner().invoke(main, ["rules", "replay", "--since", "2026-11-01",
                                    "--config", str(ROOT / "config"), "--workers", "0"], env=env)
    assert res.exit_code == 0, res.output
    assert "skipped 1 event(s): cannot be evaluated (OverflowError)" in res.output
    assert f"event {bad} generic/T-bad: date value out of range" in res.output
    assert "2 event(s), 1 ticket(s) replayed" in res.output
