"""Process commands: up, serve, worker, scheduler, send, db."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import click

# a refusal: ``error: <message>`` on stderr and exit 2 (configuration or input) or 1 (the
# operation failed), in the boundary's one format
from plugin.cli.boundary import refuse as fail
from plugin.cli.params import PORT, PROCESSES
from plugin.config_discovery import CHECKED_ENV
from plugin.settings import Settings, SettingsError, load_settings

DEFAULT_SEND_URL = "http://127.0.0.1:8700/webhooks/generic"
#: set by ``up`` for its children: the config directory it validated (saves each child,
#: the gunicorn master above all, loading the whole rule set only to check it again)


def local_time(value: datetime | None, tz: tzinfo, seconds: bool = False) -> str:
    """An instant for a person at a terminal: ``2027-03-05 08:38 EET`` in the settings' zone."""
    if value is None:
        return "-"
    if value.tzinfo is None:  # stored naive UTC (SQLite)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz).strftime(f"%Y-%m-%d %H:%M{':%S' if seconds else ''} %Z")


def settings_or_exit(up_state: bool = False, database: bool = False) -> Settings:
    """Load settings; on problems print every one with its key path and exit 2.

    The configuration directory is found as :mod:`plugin.config_discovery` states (exit 2
    naming ``deskpilot init`` when there is none). With ``up_state``, a running ``deskpilot
    up``'s Redis is used when ``DESKPILOT_REDIS_URL`` is not set (``plugin.up_state``).
    With ``database`` (the commands that read or write it), a new embedded SQLite database
    is created at head and any other without the current schema refused with one line
    (exit 1), as :mod:`plugin.cli.schema_check` states.
    """
    from plugin.config_discovery import ConfigMissing, discover

    try:
        discover()
        settings = load_settings()
    except (SettingsError, ConfigMissing) as exc:
        fail(str(exc))
    if database:
        # imported here: a long-running process (the gunicorn master) need not load it
        from plugin.cli.schema_check import SchemaNotReady, ensure_schema

        try:
            ensure_schema(settings)
        except SchemaNotReady as exc:
            fail(str(exc), 1)
    if up_state and not settings.redis_url:
        from dataclasses import replace

        from plugin.up_state import read_state

        redis_url = read_state(settings.var_dir).get("redis_url")
        if isinstance(redis_url, str) and redis_url:
            settings = replace(settings, redis_url=redis_url)
    return settings


def startup_problems(settings: Settings) -> list[str]:
    """What keeps a long-running process from processing: rules, plans, reports config."""
    from plugin.ledger.plans import PlansError, load_plans
    from plugin.reports.service import load_config
    from rules.config.loader import load_rules
    from rules.config.source import SourceError

    problems: list[str] = []
    try:
        load_rules(settings.config_dir)
    except SourceError as exc:
        problems += [str(p) for p in exc.problems]
    try:
        load_plans(settings.config_dir)
    except PlansError as exc:
        problems.append(str(exc))
    try:
        load_config(settings.config_dir)
    except (ValueError, AttributeError, TypeError) as exc:
        problems.append(f"{settings.config_dir / 'reports.yaml'}: {exc}")
    return list(dict.fromkeys(problems))


def start_or_exit(what: str, needs_redis: bool = True) -> Settings:
    """Settings *and* rules of a long-running process, or exit 2 with every problem listed.

    No process accepts webhooks (or takes jobs) it cannot process.
    """
    settings = settings_or_exit()
    if needs_redis:
        require_redis(settings, what)
    if os.environ.get(CHECKED_ENV) == str(settings.config_dir.absolute()):
        return settings  # a child of `up`, which checked this directory before starting it
    problems = startup_problems(settings)
    if problems:
        fail(f"deskpilot {what}: the configuration in {settings.config_dir} does not load:\n  "
             + "\n  ".join(problems))
    return settings


def setup_logging(settings: Settings) -> None:
    from plugin.logs import configure

    configure(settings.log_level)


def metrics_dir(settings: Settings) -> None:
    """Share Prometheus samples across processes (see ``plugin.reports.metrics_dir``)."""
    from plugin.reports.metrics_dir import prepare

    prepare(settings.var_dir)


def require_redis(settings: Settings, what: str) -> str:
    if not settings.redis_url:
        fail(f"deskpilot {what} needs DESKPILOT_REDIS_URL or a running `deskpilot up` "
             "(production processes share one Redis; `deskpilot up` runs an embedded one)")
    return settings.redis_url


def startup_check_main(what: str) -> None:
    """``start_or_exit`` as a process of its own (exit 0 when everything loads)."""
    from plugin.cli.boundary import debug_enabled, handle

    try:
        start_or_exit(what, needs_redis=False)
    except Exception as exc:
        if debug_enabled():
            raise
        sys.exit(handle(exc))
    sys.exit(0)


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=PORT)
@click.option("--redis-port", type=PORT, default=None,
              help="Port of the embedded Redis (default: a free one).")
def up_cmd(host: str, port: int, redis_port: int | None) -> None:
    """Receiver, worker and scheduler on embedded defaults (SQLite, embedded Redis)."""
    from plugin.runner import run_up

    settings = settings_or_exit()
    # the rules, plans and reports config are checked in a child process: the supervisor
    # (which runs the scheduler) need not keep everything the check imports in memory
    checked = subprocess.run([sys.executable, "-c", "from plugin.cli.core import "
                              "startup_check_main; startup_check_main('up')"],
                             capture_output=True, text=True)
    if checked.returncode != 0:
        click.echo(checked.stderr.rstrip("\n") or checked.stdout.rstrip("\n"), err=True)
        sys.exit(checked.returncode)
    sys.exit(run_up(settings, host, port, redis_port))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=PORT)
@click.option("--workers", default=2, show_default=True, type=PROCESSES)
@click.option("--threads", default=4, show_default=True, type=PROCESSES)
def serve_cmd(host: str, port: int, workers: int, threads: int) -> None:
    """The webhook receiver and APIs under gunicorn (needs DESKPILOT_REDIS_URL)."""
    from plugin.server import serve

    settings = start_or_exit("serve")
    metrics_dir(settings)
    setup_logging(settings)  # the receiver's outcomes (webhook.queued, …) at INFO
    sys.argv = [sys.argv[0]]  # gunicorn reads argv; our options are already parsed
    serve(host, port, workers, threads)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--queues", default=None, help="Comma-separated queue names.")
def worker_cmd(burst: bool, queues: str | None) -> None:
    """An RQ worker for events and host pushes (needs DESKPILOT_REDIS_URL)."""
    from plugin.worker import run_worker

    settings = start_or_exit("worker")
    metrics_dir(settings)
    setup_logging(settings)
    names = [q.strip() for q in queues.split(",")] if queues else None
    sys.exit(0 if run_worker(settings, burst=burst, queue_names=names) else 1)


@click.group("scheduler", invoke_without_command=True)
@click.pass_context
def scheduler_cmd(ctx: click.Context) -> None:
    """The one scheduler process: every timer (needs DESKPILOT_REDIS_URL)."""
    if ctx.invoked_subcommand is not None:
        return
    from plugin.context import build_context
    from plugin.scheduler import run_forever

    settings = start_or_exit("scheduler")
    metrics_dir(settings)
    setup_logging(settings)
    run_forever(build_context(settings))


@scheduler_cmd.command("tick")
@click.option("--now", "now_text", default=None, help="ISO datetime with offset.")
def scheduler_tick(now_text: str | None) -> None:
    """Run every scheduler task once at --now (default: the current time)."""
    from plugin.context import build_context, set_context
    from plugin.scheduler import tick
    from plugin.storage.db import utcnow

    settings = settings_or_exit(up_state=True, database=True)
    require_redis(settings, "scheduler tick")
    now = utcnow()
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--now: not an ISO datetime: {now_text!r}")
        if now.tzinfo is None:
            fail("--now must carry a UTC offset")
    ctx = build_context(settings)
    set_context(ctx)
    try:
        for name, result in tick(ctx, now, force=True).items():
            click.echo(f"{name}: {result}")
    finally:
        set_context(None)
        ctx.close()


def _send_secret(state: dict[str, object]) -> str:
    """--secret's default: DESKPILOT_GENERIC_SECRET, the running up's, else var/."""
    from plugin.up_state import var_dir_guess

    if os.environ.get("DESKPILOT_GENERIC_SECRET"):
        return os.environ["DESKPILOT_GENERIC_SECRET"]
    if isinstance(state.get("generic_secret"), str):
        return str(state["generic_secret"])
    path = var_dir_guess() / "generic_secret"
    if not path.exists():
        fail(f"no secret to sign with: pass --secret or set DESKPILOT_GENERIC_SECRET, or "
             f"run `deskpilot init` and `deskpilot up` here (up keeps its address and secret "
             f"in {path.parent / 'up.json'})")
    return path.read_text().strip()


@click.command("send")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default=None,
              help=f"Default: the running `deskpilot up`'s (var/up.json), else {DEFAULT_SEND_URL}.")
@click.option("--secret", default=None,
              help="Default: DESKPILOT_GENERIC_SECRET, the running up's, else var/generic_secret.")
@click.option("--delivery", default=None, help="Delivery id (default: a new uuid4).")
def send_cmd(event_file: Path, url: str | None, secret: str | None,
             delivery: str | None) -> None:
    """Sign and post a generic event to a Deskpilot receiver."""
    import requests

    from plugin.up_state import read_state
    from webhooks.hosts.generic import signed_headers

    state = read_state() if url is None or secret is None else {}
    if url is None:
        url = str(state.get("webhook_url") or DEFAULT_SEND_URL)
    if secret is None:
        secret = _send_secret(state)
    body = event_file.read_bytes()
    headers = {"Content-Type": "application/json",
               **signed_headers(body, secret, delivery or str(uuid.uuid4()))}
    try:
        resp = requests.post(url, data=body, headers=headers, timeout=30)
    except requests.RequestException as exc:
        fail(f"cannot reach {url}: {exc.__class__.__name__} (is `deskpilot up` running?)", 1)
    try:
        shown = json.dumps(resp.json(), ensure_ascii=False)
    except ValueError:
        shown = resp.text[:500]
    click.echo(f"{resp.status_code} {shown}")
    sys.exit(0 if resp.ok else 1)


@click.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to --revision."""
    from plugin.storage.migrate import current_revision, upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url, revision)
    click.echo(f"database at revision {current_revision(settings.database_url)}")
