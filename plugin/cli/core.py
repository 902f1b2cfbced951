"""Process commands: up, serve, worker, scheduler, send, db."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click

from plugin.settings import Settings, SettingsError, load_settings


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def settings_or_exit() -> Settings:
    """Load settings; on problems print every one with its key path and exit 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def metrics_dir(settings: Settings) -> None:
    """Share Prometheus samples across processes (see ``plugin.reports.metrics_dir``)."""
    from plugin.reports.metrics_dir import prepare

    prepare(settings.var_dir)


def require_redis(settings: Settings, what: str) -> str:
    if not settings.redis_url:
        fail(f"deskpilot {what} needs DESKPILOT_REDIS_URL (production processes share one "
             "Redis; use `deskpilot up` for the embedded quick start)")
    return settings.redis_url


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
def up_cmd(host: str, port: int) -> None:
    """Receiver, worker and scheduler on embedded defaults (SQLite, embedded Redis)."""
    from plugin.runner import run_up

    settings = settings_or_exit()
    sys.exit(run_up(settings, host, port))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve_cmd(host: str, port: int, workers: int, threads: int) -> None:
    """The webhook receiver and APIs under gunicorn (needs DESKPILOT_REDIS_URL)."""
    from plugin.server import serve

    settings = settings_or_exit()
    require_redis(settings, "serve")
    metrics_dir(settings)
    sys.argv = [sys.argv[0]]  # gunicorn reads argv; our options are already parsed
    serve(host, port, workers, threads)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--queues", default=None, help="Comma-separated queue names.")
def worker_cmd(burst: bool, queues: str | None) -> None:
    """An RQ worker for events and host pushes (needs DESKPILOT_REDIS_URL)."""
    from plugin.worker import run_worker

    settings = settings_or_exit()
    require_redis(settings, "worker")
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

    settings = settings_or_exit()
    require_redis(settings, "scheduler")
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

    settings = settings_or_exit()
    require_redis(settings, "scheduler tick")
    now = utcnow()
    if now_text:
        now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
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


@click.command("send")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", default="http://127.0.0.1:8700/webhooks/generic", show_default=True)
@click.option("--secret", default=None, help="Default: DESKPILOT_GENERIC_SECRET or var/.")
@click.option("--delivery", default=None, help="Delivery id (default: a new uuid4).")
def send_cmd(event_file: Path, url: str, secret: str | None, delivery: str | None) -> None:
    """Sign and post a generic event to a Deskpilot receiver."""
    import requests

    from webhooks.hosts.generic import signed_headers

    if secret is None:
        secret = os.environ.get("DESKPILOT_GENERIC_SECRET")
    if secret is None:
        var_dir = Path(os.environ.get("DESKPILOT_VAR_DIR") or "var")
        path = var_dir / "generic_secret"
        if not path.exists():
            fail(f"no secret: pass --secret, set DESKPILOT_GENERIC_SECRET or run `deskpilot up` "
                 f"once to create {path}")
        secret = path.read_text().strip()
    body = event_file.read_bytes()
    headers = {"Content-Type": "application/json",
               **signed_headers(body, secret, delivery or str(uuid.uuid4()))}
    try:
        resp = requests.post(url, data=body, headers=headers, timeout=30)
    except requests.RequestException as exc:
        fail(f"cannot reach {url}: {exc.__class__.__name__}", 1)
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
