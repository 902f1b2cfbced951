"""``deskpilot up`` on embedded defaults: SQLite + embedded Redis, the whole loop, clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from plugin.runner import shown_url

ROOT = Path(__file__).resolve().parents[2]
EVENT = {
    "event": "ticket.created", "occurred_at": "2026-11-23T10:05:00+02:00",
    "ticket": {"id": "Q-1", "company": {"id": "acme"}, "subject": "Hello",
               "created_at": "2026-11-23T10:00:00+02:00"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def group_rss_kb(pgid: int) -> int:
    out = subprocess.run(["ps", "-o", "rss=", "-g", str(pgid)], capture_output=True, text=True)
    return sum(int(x) for x in out.stdout.split())


def alive_in_group(pgid: int) -> list[str]:
    out = subprocess.run(["ps", "-o", "pid=,cmd=", "-g", str(pgid)], capture_output=True,
                         text=True)
    return [line for line in out.stdout.splitlines() if line.strip()]


@pytest.mark.slow
def test_up_runs_the_whole_loop_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    env.update(DESKPILOT_CONFIG_DIR=str(ROOT / "config"), DESKPILOT_VAR_DIR=str(tmp_path / "var"))
    exe = [sys.executable, "-m", "plugin.cli"]
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([*exe, "up", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "no /healthz within 60 s"
            time.sleep(0.3)
        secret = (tmp_path / "var" / "generic_secret").read_text().strip()
        printed = (tmp_path / "up.log").read_text()
        # a new secret is printed once, with the webhook URL, for the admin to copy
        assert secret in printed and f"{base}/webhooks/generic" in printed
        # up prints the hub: receiver, dashboard URL with its admin token, Redis URL
        state = json.loads((tmp_path / "var" / "up.json").read_text())
        token = (tmp_path / "var" / "admin_token").read_text().strip()
        assert f"{base}/dashboard?token={token}" in printed
        # the Redis URL is printed with its per-run password masked (the 0600 state file has it)
        password = urlsplit(state["redis_url"]).password
        assert password and password not in printed and shown_url(state["redis_url"]) in printed
        assert state["webhook_url"] == f"{base}/webhooks/generic"
        # the README's second command, run as printed from the checkout (no --url, --secret:
        # they come from the running up's var/up.json)
        readme = (ROOT / "README.md").read_text()
        printed_send = ".venv/bin/deskpilot send examples/01-filed.json"
        assert printed_send in readme
        as_printed = subprocess.run([*exe, *printed_send.split()[1:]], capture_output=True,
                                    text=True, cwd=ROOT,
                                    env={**env, "DESKPILOT_VAR_DIR": str(tmp_path / "var")})
        assert as_printed.returncode == 0 and as_printed.stdout.startswith("202 "), (
            as_printed.stdout, as_printed.stderr)
        event_file = tmp_path / "event.json"
        event_file.write_text(json.dumps(EVENT))
        send = [*exe, "send", str(event_file), "--url", f"{base}/webhooks/generic",
                "--delivery", "quick-1"]
        senv = {**env, "DESKPILOT_VAR_DIR": str(tmp_path / "var")}
        first = subprocess.run(send, env=senv, capture_output=True, text=True, cwd=tmp_path)
        assert first.returncode == 0 and first.stdout.startswith("202 "), first.stdout
        second = subprocess.run(send, env=senv, capture_output=True, text=True, cwd=tmp_path)
        assert second.stdout.startswith("200 ") and '"duplicate"' in second.stdout
        bad = subprocess.run([*send[:-2], "--secret", "wrong-secret"], env=senv,
                             capture_output=True, text=True, cwd=tmp_path)
        assert bad.returncode == 1 and bad.stdout.startswith("401 ")
        # the worker processes it
        import sqlite3

        db = sqlite3.connect(tmp_path / "var" / "deskpilot.sqlite3")
        deadline = time.monotonic() + 30
        while {row[0] for row in db.execute("select state from events")} != {"processed"}:
            assert time.monotonic() < deadline, "event not processed within 30 s"
            time.sleep(0.3)
        db.close()
        rss_mb = group_rss_kb(proc.pid) / 1024
        print(f"idle RSS of the up process group: {rss_mb:.0f} MB")
        assert rss_mb < 300
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    deadline = time.monotonic() + 10
    while alive_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive_in_group(proc.pid) == [], "orphans left behind"
    assert proc.returncode == 0
    assert not (tmp_path / "var" / "up.json").exists()  # removed when up stops
    assert "webhook.queued conn=generic" in (tmp_path / "up.log").read_text()
