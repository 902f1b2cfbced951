"""DESKPILOT_LOG_FORMAT=json: one JSON object per line; text otherwise."""

from __future__ import annotations

import json
import logging

import pytest

from plugin.logs import SHOWN_LIMIT, configure, shown


@pytest.fixture
def restore_root():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_format_is_one_object_per_line(monkeypatch, capsys, restore_root) -> None:
    monkeypatch.setenv("DESKPILOT_LOG_FORMAT", "json")
    configure("INFO")
    log = logging.getLogger("deskpilot.webhook")
    log.info("webhook.queued conn=%s event=%s", "generic", 7)
    try:
        raise ValueError("multi\nline")
    except ValueError:
        log.warning("webhook.parse-error conn=%s", "generic", exc_info=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "webhook.queued conn=generic event=7"
    assert first["level"] == "INFO" and first["logger"] == "deskpilot.webhook" and first["ts"]
    assert second["message"].startswith("webhook.parse-error") and "ValueError" in second["exc"]


def test_text_format_and_one_handler_only(monkeypatch, capsys, restore_root) -> None:
    monkeypatch.delenv("DESKPILOT_LOG_FORMAT", raising=False)
    configure("INFO")
    configure("INFO")  # configuring twice does not double every line
    logging.getLogger("deskpilot.webhook").info("webhook.duplicate conn=generic")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("INFO deskpilot.webhook webhook.duplicate "
                                                  "conn=generic")


def test_an_untrusted_value_stays_one_bounded_field() -> None:
    assert shown("generic") == "generic"
    assert shown("олена@acme") == "олена@acme"  # printable text is kept as it is
    forged = "nope\n2026-01-01 INFO deskpilot.webhook webhook.queued conn=generic"
    assert "\n" not in shown(forged) and " " not in shown(forged)
    assert shown(forged).startswith("nope\\x0a2026-01-01\\x20INFO")
    assert shown("a\\b\tc\u2028d\x00") == "a\\\\b\\x09c\\u2028d\\x00"
    long = "x" * (SHOWN_LIMIT + 1)
    assert shown(long) == "x" * SHOWN_LIMIT + "…" and shown(long[:-1]) == long[:-1]
