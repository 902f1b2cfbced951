"""The e2e stack, started once per session: Deskpilot against a real django-helpdesk.

Order matters (HOSTS.md §5): the helpdesk posts its webhooks synchronously and answers 500
when the receiver is unreachable, so the receiver and the worker start before the helpdesk
serves a single request. Deskpilot's host client reaches the helpdesk API through a
fault-injecting relay; the tests themselves call the helpdesk directly, as its users do.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
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
from tests.e2e.helpdesk import HelpdeskAPI, HelpdeskSite
from tests.e2e.relay import FaultRelay
from tests.services import IN_CI, leased_redis_db

PROVISION = Path(__file__).resolve().parent / "provision.sh"
CONNECTION = "helpdesk"


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires the e2e suite to run", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def dh_venv() -> Path:
    """The django-helpdesk virtualenv, provisioned on first use (skip here, fail on CI)."""
    venv = Path(
        os.environ.get("DESKPILOT_E2E_VENV") or Path.home() / ".cache" / "deskpilot" / "dh-venv"
    )
    try:
        done = subprocess.run(["bash", str(PROVISION)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"cannot provision the django-helpdesk venv: {exc}")
    if done.returncode != 0:
        _unavailable(
            f"cannot provision the django-helpdesk venv in {venv} "
            f"(tests/e2e/provision.sh exited {done.returncode}): "
            f"{(done.stdout + done.stderr).strip()[-800:]}"
        )
    return venv


@pytest.fixture(scope="session")
def e2e_redis_url() -> Iterator[str]:
    """A Redis db (1-15) leased for the whole session."""
    with leased_redis_db(ttl_seconds=1800) as url:
        yield url


@pytest.fixture(scope="session")
def e2e_db_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for the session, migrated to head."""
    with migrated_database(PG_ADMIN_URL, "deskpilot_e2e", _unavailable) as url:
        yield url


@dataclass
class Stack:
    """Everything a scenario touches, with the helpers the scenarios share."""

    site: HelpdeskSite
    agent: HelpdeskAPI
    relay: FaultRelay
    receiver: Receiver
    deskpilot: Deskpilot
    seed: dict[str, Any]
    webhook_url: str
    calendar: Any
    companies: dict[str, str] = field(default_factory=dict)
    #: rewrites Deskpilot's settings for a helpdesk TIME_ZONE (``restart``)
    rewrite: Any = None

    @property
    def plugin_user(self) -> int:
        return int(self.seed["deskpilot"]["id"])

    @property
    def queue(self) -> int:
        return int(self.seed["queue"]["id"])

    def company(self, name: str, credits: int | None = 10) -> str:
        """A client company of its own (e-mail domain), with a package bought first."""
        domain = f"{name}.example"
        if domain not in self.companies:
            if credits:
                self.deskpilot.buy_credits(domain, credits)
            self.companies[domain] = domain
        return domain

    def file(self, company: str, title: str, who: str = "client", **custom: Any) -> dict[str, Any]:
        """A client of ``company`` files a ticket (through the API, as the helpdesk's form does)."""
        return self.agent.file_ticket(self.queue, title, f"{who}@{company}", **custom)

    def ours(self, ticket_id: int, public: bool | None = None) -> list[dict[str, Any]]:
        """Deskpilot's own followups on the ticket (written by the plugin's API user)."""
        return [
            f
            for f in self.agent.followups(ticket_id)
            if f["user"] == self.plugin_user and (public is None or f["public"] == public)
        ]

    def wait(self, probe: Any, what: str, timeout: float = 30.0) -> Any:
        return wait_for(probe, what, timeout=timeout, diagnostics=self.diagnostics)

    def settle(self, *ticket_ids: int, timeout: float = 30.0) -> None:
        """Wait until the tickets' events are processed and their outbox rows pushed."""
        # Exact, no grace period needed: the helpdesk posts its webhook before it answers the
        # API call that caused it, and a push marks its rows sent only after the helpdesk
        # (and so the echo webhook) answered; processing writes the outbox rows in the same
        # transaction that marks the event processed.
        self.deskpilot.check_workers()
        self.wait(
            lambda: self.deskpilot.unsettled(ticket_ids) == 0 or None,
            f"Deskpilot to process every event and push every outbox row of {ticket_ids}",
            timeout,
        )

    def tick(self, now: datetime) -> str:
        """``deskpilot scheduler tick --now``: one scheduler pass at a chosen instant."""
        return self.deskpilot.must("scheduler", "tick", "--now", now.isoformat())

    def restart(self, time_zone: str) -> None:
        """The helpdesk in ``time_zone`` (its TIME_ZONE setting) and Deskpilot's connection
        told so (``options.timezone``): both restarted, the databases kept."""
        self.site.stop()
        self.deskpilot.stop_workers()
        self.rewrite(time_zone)
        self.deskpilot.start_worker()
        self.deskpilot.start_scheduler()
        self.site.time_zone = time_zone
        self.site.start(self.webhook_url)

    def diagnostics(self) -> str:
        return (
            f"{self.deskpilot.diagnostics()}\n--- helpdesk log\n{self.site.log_tail(25)}\n"
            f"--- relay: last requests {self.relay.seen[-10:]}"
        )


def write_settings(
    path: Path,
    *,
    db_url: str,
    redis_url: str,
    base_url: str,
    token: str,
    seed: dict[str, Any],
    var_dir: Path,
    time_zone: str = "UTC",
) -> None:
    settings = {
        "database_url": db_url,
        "redis_url": redis_url,
        "config_dir": str(REPO / "config"),
        "var_dir": str(var_dir),
        "timezone": "Europe/Kyiv",
        "log_level": "INFO",
        "connections": [
            {
                "name": CONNECTION,
                "kind": "django_helpdesk",
                "base_url": base_url,
                "credentials": {"token": seed["deskpilot"]["token"]},
                "webhook_tokens": [token],
                "plugin_user_id": seed["deskpilot"]["id"],
                "company_from": {"source": "email_domain"},
                "field_map": {
                    "task_type": "task_type",
                    "units": "units",
                    "estimate_hours": "estimate_hours",
                    "balance": "balance",
                    "accept_due": "accept_due",
                    # created by test_e2e_field_proof (first as a date field, by mistake)
                    "resolve_due": "resolve_by",
                },
                # the helpdesk's own TIME_ZONE: custom datetime fields hold its wall time
                "options": {"timezone": time_zone},
                "timeout_seconds": 5,
                "reconcile_minutes": 60,
            }
        ],
    }
    path.write_text(yaml.safe_dump(settings, sort_keys=False))


@pytest.fixture(scope="session")
def stack(
    dh_venv: Path, e2e_redis_url: str, e2e_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    from rules.calendar.load import load_calendars

    workdir = tmp_path_factory.mktemp("e2e")
    site = HelpdeskSite(dh_venv, workdir, free_port())
    site.migrate()
    seed = site.seed()
    token = secrets.token_urlsafe(24)
    settings_file = workdir / "deskpilot.yaml"
    with ExitStack() as cleanup:
        # torn down in reverse: helpdesk, scheduler and worker, receiver, relay
        relay = FaultRelay(site.url).start()
        cleanup.callback(relay.stop)
        def rewrite(time_zone: str = "UTC") -> None:
            write_settings(
                settings_file,
                db_url=e2e_db_url,
                redis_url=e2e_redis_url,
                base_url=f"{relay.url}/helpdesk",
                token=token,
                seed=seed,
                var_dir=workdir / "var",
                time_zone=time_zone,
            )

        rewrite()
        env = clean_env(
            {
                "DESKPILOT_SETTINGS": str(settings_file),
                "DESKPILOT_DATABASE_URL": e2e_db_url,
                "DESKPILOT_REDIS_URL": e2e_redis_url,
                "DESKPILOT_CONFIG_DIR": str(REPO / "config"),
                "DESKPILOT_VAR_DIR": str(workdir / "var"),
            }
        )
        deskpilot = Deskpilot(settings_file, env, workdir)
        cleanup.callback(deskpilot.db.dispose)
        receiver = Receiver(deskpilot.settings, free_port())
        receiver.start()
        cleanup.callback(receiver.close)
        cleanup.callback(deskpilot.stop_workers)
        deskpilot.start_worker()
        deskpilot.start_scheduler()
        webhook_url = f"{receiver.url}/webhooks/{CONNECTION}/{token}"
        cleanup.callback(site.stop)
        site.start(webhook_url)
        yield Stack(
            site=site,
            agent=HelpdeskAPI(site.url, seed["agent"]["token"]),
            relay=relay,
            receiver=receiver,
            deskpilot=deskpilot,
            seed=seed,
            webhook_url=webhook_url,
            calendar=load_calendars(REPO / "config" / "calendars.yaml")["default"],
            rewrite=rewrite,
        )
