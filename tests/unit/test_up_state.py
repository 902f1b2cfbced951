"""var/up.json: written private, ignored once its up is gone; passwords not printed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from plugin.runner import shown_url
from plugin.up_state import STATE_FILE, read_state, remove_state, write_state


def test_state_is_private_and_read_back_while_its_process_lives(tmp_path: Path) -> None:
    path = write_state(tmp_path, {"webhook_url": "http://127.0.0.1:1/webhooks/generic"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_state(tmp_path)["webhook_url"].endswith("/webhooks/generic")
    remove_state(tmp_path)
    assert not path.exists() and read_state(tmp_path) == {}


def test_a_stale_state_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text(json.dumps({"pid": 2**22 + 12345, "redis_url": "x"}))
    assert read_state(tmp_path) == {}
    (tmp_path / STATE_FILE).write_text("not json")
    assert read_state(tmp_path) == {}


def test_redis_passwords_are_not_printed() -> None:
    assert shown_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert shown_url("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert shown_url("redis://app:s3cret@db:6379/0") == "redis://app:***@db:6379/0"
