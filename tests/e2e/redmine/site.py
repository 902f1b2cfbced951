"""A throwaway Redmine 5 instance for one test session, and its REST API as people use it.

Debian's Redmine serves several instances from one install (``REDMINE_INSTANCE``: config,
log and tmp under ``/var/lib/redmine/<name>``). Each session makes its own with a fresh
SQLite file: ``rake db:migrate`` and ``redmine:load_default_data`` (~7 s), ``seed.rb``
through ``rails runner`` (the support team's setup), then ``rails server`` on a free port.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import requests

REDMINE = Path("/usr/share/redmine")
INSTANCES = Path("/var/lib/redmine")
SEED = Path(__file__).resolve().parent / "seed.rb"


class RedmineSite:
    """One Redmine instance: created, seeded, served and removed again."""

    def __init__(self, workdir: Path, port: int):
        self.workdir = workdir
        self.port = port
        self.name = f"deskpilot-e2e-{secrets.token_hex(4)}"
        self.root = INSTANCES / self.name
        self.log = workdir / "redmine.log"
        self._server: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAILS_", "BUNDLE"))}
        env.update(REDMINE_INSTANCE=self.name, RAILS_ENV="production", REDMINE_LANG="en")
        return env

    def _run(self, *args: str, timeout: float = 300) -> None:
        with self.log.open("ab") as log:
            done = subprocess.run(
                list(args), cwd=REDMINE, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                timeout=timeout, check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{self.log_tail()}")

    def create(self) -> None:
        """The instance directory, database and default data (statuses, trackers, roles)."""
        for sub in ("config", "log", "tmp", "files", "public/plugin_assets"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        db = self.workdir / "redmine.sqlite3"
        (self.root / "config" / "database.yml").write_text(
            f"production:\n  adapter: sqlite3\n  database: {db}\n  timeout: 10000\n"
        )
        (self.root / "config" / "secret_key.txt").write_text(secrets.token_hex(32))
        self._run("bin/rake", "db:migrate")
        self._run("bin/rake", "redmine:load_default_data")

    def seed(self, webhook_url: str, secret: str, companies: dict[str, str],
             webhook_projects: list[str]) -> dict[str, Any]:
        """Run seed.rb: users and API keys, statuses, roles, custom fields, one project per
        company (``{identifier: name}``), the plugin's settings (posting for
        ``webhook_projects`` only). Returns what it created."""
        given = self.workdir / "seed-in.json"
        made = self.workdir / "seed-out.json"
        given.write_text(json.dumps({
            "webhook_url": webhook_url, "secret": secret,
            "companies": [{"identifier": k, "name": v} for k, v in companies.items()],
            "webhook_projects": webhook_projects,
        }))
        self._run("bin/rails", "runner", str(SEED), str(given), str(made))
        seeded: dict[str, Any] = json.loads(made.read_text())
        return seeded

    def start(self) -> None:
        log = self.log.open("ab")
        self._server = subprocess.Popen(
            ["bin/rails", "server", "-b", "127.0.0.1", "-p", str(self.port),
             "-P", str(self.workdir / "redmine.pid")],
            cwd=REDMINE, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self._server.poll() is not None:
                raise RuntimeError(f"rails server exited {self._server.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/issue_statuses.json", timeout=5).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"Redmine did not answer on {self.url} within 120 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._server is not None and self._server.poll() is None:
            os.killpg(self._server.pid, signal.SIGTERM)
            try:
                self._server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self._server.pid, signal.SIGKILL)
                self._server.wait()
        self._server = None

    def remove(self) -> None:
        """The instance directory under /var/lib/redmine (the database lives in workdir)."""
        if self.root.parent == INSTANCES and self.root.name.startswith("deskpilot-e2e-"):
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        app_log = self.root / "log" / "production.log"
        if app_log.exists():
            text += "\n--- production.log\n" + app_log.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])
