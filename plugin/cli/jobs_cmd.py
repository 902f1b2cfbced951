"""``deskpilot jobs failed|retry``: RQ's failed-job registry, readable, and requeueing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from plugin.context import Context


@click.group("jobs")
def jobs_group() -> None:
    """Background jobs: failed ones and their retry."""


def _context() -> Context:
    from plugin.cli.core import require_redis, settings_or_exit
    from plugin.context import build_context, set_context

    settings = settings_or_exit(up_state=True)
    require_redis(settings, "jobs")
    ctx = build_context(settings)
    set_context(ctx)
    return ctx


@jobs_group.command("failed")
def jobs_failed() -> None:
    """List failed jobs with their reason, and the stored events given up on (exit 0; none:
    only a note on stderr)."""
    from datetime import datetime

    from plugin.cli.core import local_time
    from plugin.context import set_context
    from plugin.failed_jobs import failed_events, failed_jobs

    ctx = _context()
    try:
        items = list(failed_jobs(ctx.redis))
        items += failed_events(ctx, {item.id for item in items})
        for item in items:
            when = item.failed_at if item.failed_at == "-" else local_time(
                datetime.fromisoformat(item.failed_at), ctx.settings.tz, seconds=True)
            click.echo(f"{item.id}\t{item.queue}\t{when}\t{item.description}\t"
                       f"{item.reason}")
        if not items:
            click.echo("no failed jobs", err=True)
    finally:
        set_context(None)
        ctx.close()


@jobs_group.command("retry")
@click.argument("job_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Requeue every failed job.")
def jobs_retry(job_id: str | None, retry_all: bool) -> None:
    """Requeue one failed job (ID) or all of them (--all)."""
    from plugin.context import set_context
    from plugin.failed_jobs import retry_failed

    if bool(job_id) == retry_all:
        raise click.UsageError("give a job ID or --all")
    ctx = _context()
    try:
        done = retry_failed(ctx, None if retry_all else job_id)
    finally:
        set_context(None)
        ctx.close()
    if job_id and not done:
        from plugin.cli.boundary import FAILED, refuse

        refuse(f"no failed job {job_id}", FAILED)
    for jid in done:
        click.echo(f"requeued {jid}")
