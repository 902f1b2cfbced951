"""The scheduler's hooks: ``daily_digest(ctx, now)`` and ``weekly_report(ctx, now)``.

The scheduler decides when (once a local day / week after 09:00); these build the text for
the period just ended and queue it as an internal note on the configured admin ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from plugin.reports.digest import daily_period, render_digest, weekly_period
from plugin.reports.queries import Filters
from plugin.reports.report import build_report
from plugin.reports.service import load_config, team_calendar, ticket_url

log = logging.getLogger("deskpilot.reports")


def daily_digest(ctx: Any, now: datetime) -> str:
    return _deliver(ctx, now, "daily", daily_period, False)


def weekly_report(ctx: Any, now: datetime) -> str:
    return _deliver(ctx, now, "weekly", weekly_period, True)


def build_text(ctx: Any, now: datetime, period: Callable[..., tuple[datetime, datetime]],
               weekly: bool) -> tuple[str, str]:
    """The digest text (in the team's language) and its period key (the start date)."""
    from plugin.rules_runtime import team_rules

    cfg = load_config(ctx.settings.config_dir)
    cal = team_calendar(ctx.settings, cfg.team_calendar)
    a, b = period(now, cal.tz)
    with ctx.db.session() as session:
        report = build_report(
            session, a, b, now, cal, Filters(), cfg.targets, timedelta(hours=cfg.idle_hours),
            trend_weeks=1, link=lambda conn, tid: ticket_url(ctx.settings, conn, tid),
        )
    rules = team_rules(ctx.settings.config_dir)
    return render_digest(rules, report, weekly), a.date().isoformat()


def _deliver(ctx: Any, now: datetime, kind: str,
             period: Callable[..., tuple[datetime, datetime]], weekly: bool) -> str:
    text, key = build_text(ctx, now, period, weekly)
    target = load_config(ctx.settings.config_dir).digest
    connection, ticket_id = target.get("connection"), target.get("ticket_id")
    if not connection or not ticket_id:
        log.info("reports.digest-unaddressed kind=%s", kind)
        return f"{kind}: built, no digest ticket configured (reports.yaml digest)"
    from plugin.outbox.commands import Command
    from plugin.outbox.rows import add_commands, enqueue_after_commit

    with ctx.db.session() as session:
        rows = add_commands(session, str(connection), str(ticket_id),
                            [Command.add_note(text, "internal")],
                            key_prefix=f"digest:{kind}:{key}", now=now)
        enqueue_after_commit(session, lambda: ctx.redis, [(str(connection), str(ticket_id))],
                             salt=f"digest-{kind}-{key}")
    return f"{kind}: queued to {connection}/{ticket_id}" if rows else f"{kind}: already queued"
