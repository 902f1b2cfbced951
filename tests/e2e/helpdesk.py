"""The real django-helpdesk: its process (own virtualenv, SQLite, runserver) and its REST API.

Tests drive the helpdesk only through ``/helpdesk/api/tickets/`` and ``/helpdesk/api/
followups/`` with a staff user's DRF token, as an agent's tool would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests

SITE_DIR = Path(__file__).resolve().parent / "helpdesk_site"
VERSION = "2.6.1"

#: django-helpdesk's status codes (helpdesk/settings.py)
OPEN, REOPENED, RESOLVED, CLOSED, DUPLICATE = 1, 2, 3, 4, 5


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def duration(minutes: int) -> str:
    """A DurationField value as the API takes it: ``HH:MM:SS``."""
    return str(timedelta(minutes=minutes)).rjust(8, "0")


class HelpdeskSite:
    """One django-helpdesk installation in a temporary directory."""

    def __init__(self, venv: Path, workdir: Path, port: int):
        self.python = venv / "bin" / "python"
        self.venv = venv
        self.workdir = workdir
        self.port = port
        self.db_path = workdir / "helpdesk.sqlite3"
        self.log_path = workdir / "helpdesk.log"
        self.proc: subprocess.Popen[bytes] | None = None
        #: the helpdesk's own TIME_ZONE (settings.py reads ``DH_TIME_ZONE``)
        self.time_zone = "UTC"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self, webhook_url: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DESKPILOT_", "DJANGO_"))}
        env.pop("VIRTUAL_ENV", None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "settings",
                "DH_DB_PATH": str(self.db_path),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": str(SITE_DIR),
            }
        )
        if webhook_url:
            env["DH_WEBHOOK_URL"] = webhook_url
        env["DH_TIME_ZONE"] = self.time_zone
        return env

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.python), *args],
            cwd=SITE_DIR,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"helpdesk {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return done.stdout

    def migrate(self) -> None:
        """Migrate a fresh database, reusing a migrated template kept beside the venv.

        The 43 helpdesk migrations take ~6 s; the template is keyed by the site's settings,
        so changing them rebuilds it.
        """
        key = hashlib.sha256((SITE_DIR / "settings.py").read_bytes()).hexdigest()[:12]
        template = self.venv / f"e2e-template-{VERSION}-{key}.sqlite3"
        if not template.exists():
            self._run("manage.py", "migrate", "--noinput", "-v0")
            part = template.with_suffix(".part")
            shutil.copyfile(self.db_path, part)
            part.replace(template)  # atomic: a concurrent run never copies half a file
        else:
            shutil.copyfile(template, self.db_path)

    def shell(self, code: str) -> str:
        """Run Python in the helpdesk's Django (``manage.py shell -c``), as an admin would."""
        return self._run("manage.py", "shell", "-c", code)

    def seed(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self._run("seed.py"))
        return result

    def start(self, webhook_url: str) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.python), "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=SITE_DIR,
            env=self._env(webhook_url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"helpdesk runserver exited:\n{self.log_tail()}")
            try:
                requests.get(f"{self.url}/helpdesk/api/tickets/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"helpdesk did not start in 60 s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no helpdesk log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class HelpdeskAPI:
    """The helpdesk's REST API as one staff user (DRF token) uses it."""

    def __init__(self, base_url: str, token: str):
        self.base = base_url.rstrip("/") + "/helpdesk/api"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"

    def _call(
        self, method: str, path: str, expect: tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> requests.Response:
        resp = self.http.request(method, f"{self.base}/{path}", timeout=30, **kwargs)
        if resp.status_code not in expect:
            raise AssertionError(
                f"helpdesk {method} {path} answered {resp.status_code}: {resp.text[:500]}"
            )
        return resp

    def file_ticket(
        self,
        queue: int,
        title: str,
        submitter: str,
        description: str = "",
        priority: int = 3,
        expect: tuple[int, ...] = (201,),
        **custom: Any,
    ) -> dict[str, Any]:
        """A client's ticket: ``custom`` are custom fields by name (``task_type="bug"``)."""
        body = {
            "queue": queue,
            "title": title,
            "description": description or title,
            "submitter_email": submitter,
            "priority": priority,
            **{f"custom_{k}": v for k, v in custom.items()},
        }
        resp = self._call("POST", "tickets/", json=body, expect=expect)
        return resp.json() if resp.status_code == 201 else {}

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", f"tickets/{ticket_id}/").json()
        return data

    def tickets(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = f"{self.base}/tickets/"
        while url:
            resp = self.http.get(url, params=params if not out else None, timeout=30)
            resp.raise_for_status()
            page = resp.json()
            out += page["results"]
            url = page.get("next")
        return out

    def update_fields(self, ticket_id: int, **custom: Any) -> dict[str, Any]:
        """PATCH custom fields (the helpdesk fires no webhook for this)."""
        body = {f"custom_{k}": v for k, v in custom.items()}
        data: dict[str, Any] = self._call("PATCH", f"tickets/{ticket_id}/", json=body).json()
        return data

    def follow_up(
        self,
        ticket_id: int,
        comment: str,
        public: bool = False,
        new_status: int | None = None,
        minutes: int | None = None,
        title: str | None = None,
        expect: tuple[int, ...] = (201,),
    ) -> dict[str, Any]:
        """A followup as the staff user: a reply, an internal note, a status change, time."""
        body: dict[str, Any] = {"ticket": ticket_id, "comment": comment, "public": public}
        if new_status is not None:
            body["new_status"] = new_status
        if minutes is not None:
            body["time_spent"] = duration(minutes)
        if title is not None:
            body["title"] = title
        resp = self._call("POST", "followups/", json=body, expect=expect)
        return resp.json() if resp.status_code == 201 else {}

    def followups(self, ticket_id: int) -> list[dict[str, Any]]:
        followups: list[dict[str, Any]] = self.ticket(ticket_id)["followup_set"]
        return sorted(followups, key=lambda f: f["id"])

    @staticmethod
    def filed_at(ticket: dict[str, Any]) -> datetime:
        """When the helpdesk filed the ticket: the date of its first followup.

        The ticket serializer has no ``created``; the helpdesk writes the "Ticket Opened"
        followup in the same request, so its date is the filing time it reports.
        """
        first = min(ticket["followup_set"], key=lambda f: f["id"])
        return parse_time(first["date"])
