"""The Redmine e2e stack: Deskpilot against a real Redmine 5 from Debian, with our plugin.

Start order: receiver (a thread of the test process) → ``deskpilot worker`` → ``deskpilot
scheduler`` → Redmine (``rails server`` on a free port). The plugin posts from a background
thread with retries, so unlike django-helpdesk a dead receiver never fails a Redmine request.
One project per client company; the ``poll`` company's project is left out of the plugin's
project list, so Deskpilot learns of its issues only through ``deskpilot hosts reconcile``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import PG_ADMIN_URL
from tests.e2e.deskpilot import (
    REPO,
    Deskpilot,
    Receiver,
    clean_env,
    free_port,
    migrated_database,
    wait_for,
)
from tests.e2e.redmine.api import RedmineAPI
from tests.e2e.redmine.site import INSTANCES, REDMINE, RedmineSite
from tests.services import IN_CI, leased_redis_db

PROVISION = Path(__file__).resolve().parent / "provision.sh"
CONNECTION = "redmine"
#: project identifier -> project name; Deskpilot's company id is ``rm-<identifier>``
COMPANIES = {
    "filing": "Filing Ltd", "acme": "Acme Ltd", "globex": "Globex Corp", "hooli": "Hooli",
    "poll": "Polled Only Inc", "strict": "Strict Assignments LLC",
}
POLL_ONLY = {"poll"}


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires the Redmine e2e suite to run", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redmine_ready() -> None:
    """Debian's Redmine and our plugin in place (tests/e2e/redmine/provision.sh)."""
    if not (REDMINE / "bin" / "rails").exists() and not IN_CI:
        pytest.skip("Redmine is not installed (run: bash tests/e2e/redmine/provision.sh as root)")
    try:
        done = subprocess.run(["bash", str(PROVISION)], capture_output=True, text=True,
                              timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"cannot provision Redmine: {exc}")
    if done.returncode != 0:
        _unavailable(f"cannot provision Redmine (tests/e2e/redmine/provision.sh exited "
                     f"{done.returncode}): {(done.stdout + done.stderr).strip()[-800:]}")
    try:
        probe = INSTANCES / f".deskpilot-write-probe-{uuid.uuid4().hex[:6]}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        _unavailable(f"cannot create a Redmine instance under {INSTANCES}: {exc}")


@pytest.fixture(scope="session")
def rm_redis_url() -> Iterator[str]:
    with leased_redis_db(ttl_seconds=1800) as url:
        yield url


@pytest.fixture(scope="session")
def rm_db_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for the Redmine stack, migrated to head."""
    with migrated_database(PG_ADMIN_URL, "deskpilot_e2e_rm", _unavailable) as url:
        yield url


@dataclass
class RedmineStack:
    """Everything a Redmine scenario touches."""

    site: RedmineSite
    seed: dict[str, Any]
    receiver: Receiver
    deskpilot: Deskpilot
    webhook_url: str
    secret: str
    calendar: Any

    def api(self, login: str) -> RedmineAPI:
        return RedmineAPI(self.site.url, self.seed["users"][login]["key"],
                          self.seed["custom_fields"])

    @property
    def agent(self) -> RedmineAPI:
        return self.api("agent")

    @property
    def admin(self) -> RedmineAPI:
        return self.api("admin")

    @property
    def bot_id(self) -> int:
        return int(self.seed["users"]["deskpilot"]["id"])

    def deliver(self, body: bytes) -> requests.Response:
        """POST ``body`` to the receiver signed as the plugin signs it (a redelivery)."""
        signature = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return requests.post(self.webhook_url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Redmine-Signature-256": signature})

    def status(self, name: str) -> int:
        return int(self.seed["statuses"][name])

    def company(self, ident: str) -> str:
        return f"rm-{ident}"

    def client(self, ident: str) -> RedmineAPI:
        return self.api(f"client-{ident}")

    def file(self, ident: str, subject: str, description: str = "") -> dict[str, Any]:
        """The company's client files an issue in its project (as the new-issue form does)."""
        return self.client(ident).file_issue(
            int(self.seed["projects"][ident]["id"]), int(self.seed["tracker_id"]), subject,
            description)

    def ours(self, issue_id: int, private: bool | None = None) -> list[dict[str, Any]]:
        """Deskpilot's notes on the issue (journals with text by its API user)."""
        return [j for j in self.agent.journals(issue_id)
                if j["user"]["id"] == self.bot_id and j.get("notes")
                and (private is None or bool(j["private_notes"]) == private)]

    def wait(self, probe: Any, what: str, timeout: float = 40.0) -> Any:
        return wait_for(probe, what, timeout=timeout, diagnostics=self.diagnostics)

    def settle(self, *issue_ids: int, timeout: float = 40.0) -> None:
        """Every event of the issues processed and every outbox row at Redmine.

        The plugin delivers from a thread of its own after Redmine's commit, so an issue filed
        a moment ago may not have reached Deskpilot yet, and "nothing unsettled" would hold
        before anything happened: each issue's first event must have been stored first.
        """
        self.deskpilot.check_workers()
        self.wait(lambda: all(self.deskpilot.events(i) for i in issue_ids) or None,
                  f"Deskpilot to have received the first event of {issue_ids}", timeout)
        self.wait(lambda: self.deskpilot.unsettled(issue_ids) == 0 or None,
                  f"Deskpilot to process every event and push every outbox row of {issue_ids}",
                  timeout)

    def diagnostics(self) -> str:
        return f"{self.deskpilot.diagnostics()}\n--- redmine log\n{self.site.log_tail(30)}"


def write_settings(path: Path, *, db_url: str, redis_url: str, site: RedmineSite,
                   secret: str, seed: dict[str, Any], var_dir: Path) -> None:
    fields = seed["custom_fields"]
    statuses = seed["statuses"]
    settings = {
        "database_url": db_url,
        "redis_url": redis_url,
        "config_dir": str(REPO / "config"),
        "var_dir": str(var_dir),
        "timezone": "Europe/Kyiv",
        "log_level": "INFO",
        "connections": [{
            "name": CONNECTION,
            "kind": "redmine",
            "base_url": site.url,
            "credentials": {"api_key": seed["users"]["deskpilot"]["key"]},
            "webhook_secrets": [secret],
            "plugin_user_id": seed["users"]["deskpilot"]["id"],
            "company_from": {"source": "project",
                             "map": {name: f"rm-{ident}" for ident, name in COMPANIES.items()}},
            "field_map": {
                "task_type": fields["task_type"], "units": fields["units"],
                "accept_due": fields["accept_due"], "resolve_due": fields["resolve_due"],
                "balance": fields["balance"],
                "inbound": {"Task type": "task_type", "Units": "units",
                            "Accept by": "accept_due", "Resolve by": "resolve_due",
                            "Balance": "balance"},
            },
            "status_map": {k: statuses[k] for k in
                           ("new", "accepted", "in_progress", "waiting_client", "resolved",
                            "closed")},
            "options": {"time_activity_id": seed["activity_id"]},
            "timeout_seconds": 10,
            "reconcile_minutes": 60,
        }],
    }
    path.write_text(yaml.safe_dump(settings, sort_keys=False))


@pytest.fixture(scope="session")
def rm_stack(redmine_ready: None, rm_redis_url: str, rm_db_url: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedmineStack]:
    from rules.calendar.load import load_calendars

    workdir = tmp_path_factory.mktemp("e2e-redmine")
    secret = secrets.token_urlsafe(24)
    receiver_port = free_port()
    webhook_url = f"http://127.0.0.1:{receiver_port}/webhooks/{CONNECTION}"
    site = RedmineSite(workdir, free_port())
    with ExitStack() as cleanup:
        # torn down in reverse: Redmine, scheduler and worker, receiver, instance directory
        cleanup.callback(site.remove)
        try:
            site.create()
            seed = site.seed(webhook_url, secret, COMPANIES,
                             [i for i in COMPANIES if i not in POLL_ONLY])
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            _unavailable(f"cannot set up a Redmine instance: {exc}")
        settings_file = workdir / "deskpilot.yaml"
        write_settings(settings_file, db_url=rm_db_url, redis_url=rm_redis_url, site=site,
                       secret=secret, seed=seed, var_dir=workdir / "var")
        env = clean_env({
            "DESKPILOT_SETTINGS": str(settings_file),
            "DESKPILOT_DATABASE_URL": rm_db_url,
            "DESKPILOT_REDIS_URL": rm_redis_url,
            "DESKPILOT_CONFIG_DIR": str(REPO / "config"),
            "DESKPILOT_VAR_DIR": str(workdir / "var"),
        })
        deskpilot = Deskpilot(settings_file, env, workdir)
        cleanup.callback(deskpilot.db.dispose)
        # every company's package is bought before any issue is filed: Redmine stamps
        # journals to the second, and credits count as of the event's time, so a package
        # bought within the same second as an acceptance would not count for it yet
        for ident in COMPANIES:
            deskpilot.buy_credits(f"rm-{ident}", 10)
        receiver = Receiver(deskpilot.settings, receiver_port)
        receiver.start()
        cleanup.callback(receiver.close)
        cleanup.callback(deskpilot.stop_workers)
        deskpilot.start_worker()
        deskpilot.start_scheduler()
        cleanup.callback(site.stop)
        site.start()
        yield RedmineStack(
            site=site, seed=seed, receiver=receiver, deskpilot=deskpilot,
            webhook_url=webhook_url, secret=secret,
            calendar=load_calendars(REPO / "config" / "calendars.yaml")["default"],
        )
