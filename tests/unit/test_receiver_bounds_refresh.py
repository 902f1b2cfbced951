"""The receiver's read of ``limits.input`` (webhooks.limits.bounds_for): an edited limit
applies within the refresh period, and unchanged rules files are not parsed again (parsing
them all, the templates included, held a request for tens of milliseconds)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from webhooks import limits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    return tmp_path / "config"


def test_unchanged_files_are_not_read_again_and_an_edit_applies(config, monkeypatch):
    reads: list[Path] = []
    real = limits.read_bounds

    def counting(config_dir):
        reads.append(Path(config_dir))
        return real(config_dir)

    clock = [1000.0]
    monkeypatch.setattr(limits, "read_bounds", counting)
    monkeypatch.setattr(limits.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(limits, "_cache", {})
    first = limits.bounds_for(config)
    assert len(reads) == 1
    clock[0] += limits.REFRESH_SECONDS + 1  # looked at again: nothing changed, not parsed
    assert limits.bounds_for(config) == first and len(reads) == 1

    service = config / "rules" / "00-service.yaml"
    text = service.read_text(encoding="utf-8")
    assert "time_minutes:" in text
    edited = text.replace("time_minutes: {min: 0, max: 10080}", "time_minutes: {min: 0, max: 600}")
    assert edited != text, "the shipped bound this test edits"
    service.write_text(edited, encoding="utf-8")
    stat = service.stat()
    os.utime(service, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert limits.bounds_for(config) == first  # within the period: the old bounds
    clock[0] += limits.REFRESH_SECONDS + 1
    changed = limits.bounds_for(config)
    assert len(reads) == 2 and changed != first
