"""``deskpilot hosts import|reconcile <name>``: backfill and poll a host connection."""

from __future__ import annotations

import json
from datetime import datetime

import click

from plugin.cli.core import fail, settings_or_exit, setup_logging
from plugin.context import Context


@click.group("hosts")
def hosts_group() -> None:
    """Load and reconcile tickets from a connected helpdesk."""


def _context(name: str) -> Context:
    from plugin.context import build_context, set_context

    settings = settings_or_exit(database=True)
    if settings.connection(name) is None:
        fail(f"no connection named {name!r}")
    setup_logging(settings)
    ctx = build_context(settings)
    set_context(ctx)
    return ctx


def _echo(report_dict: dict) -> None:
    click.echo(json.dumps(report_dict, indent=2))
    if report_dict["errors"]:
        raise SystemExit(1)


@hosts_group.command("import")
@click.argument("name")
def hosts_import(name: str) -> None:
    """Load the connection's open tickets once (at install)."""
    from plugin.reconcile.poll import import_open
    from plugin.storage.db import utcnow

    ctx = _context(name)
    try:
        _echo(import_open(ctx, name, utcnow()).as_dict())
    finally:
        ctx.close()


@hosts_group.command("reconcile")
@click.argument("name")
@click.option("--since", "since_text", default=None,
              help="ISO datetime with offset (default: now less twice the connection's "
                   "reconcile_minutes and less its settle time, "
                   "options.reconcile_settle_minutes: by default Zammad 7, Zendesk 5, "
                   "Freshdesk 0 minutes). Either way items younger than the settle time "
                   "wait for the next poll.")
def hosts_reconcile(name: str, since_text: str | None) -> None:
    """Poll tickets updated recently and store the changes webhooks missed."""
    from plugin.reconcile.poll import reconcile
    from plugin.storage.db import utcnow

    since = None
    if since_text:
        try:
            since = datetime.fromisoformat(since_text.replace("Z", "+00:00"))
        except ValueError:
            fail(f"--since: not an ISO datetime: {since_text!r}")
        if since.tzinfo is None:
            fail("--since must carry a UTC offset")
    ctx = _context(name)
    try:
        _echo(reconcile(ctx, name, since, utcnow()).as_dict())
    finally:
        ctx.close()
