"""``deskpilot report``: the quality KPIs of a period as a table, JSON or CSV."""

from __future__ import annotations

from datetime import datetime

import click

from plugin.cli.core import fail, settings_or_exit


@click.command("report")
@click.option("--from", "start", metavar="DATE",
              help="YYYY-MM-DD or ISO datetime (default: 28 days ago)")
@click.option("--to", "end", metavar="DATE",
              help="inclusive date, or exclusive ISO datetime (default: today)")
@click.option("--company", help="only this client company")
@click.option("--manager", help="only tickets of this support manager")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--now", "now_text", metavar="ISO", hidden=True, help="clock for stuck tasks (tests)")
def report_cmd(start: str | None, end: str | None, company: str | None, manager: str | None,
               fmt: str, now_text: str | None) -> None:
    """Quality KPIs over a period, overall and by type, priority, company and manager."""
    from plugin.reports.report import render_csv, render_json, render_table
    from plugin.reports.service import PeriodError, report_for
    from plugin.storage.db import Database, utcnow

    settings = settings_or_exit(database=True)
    try:
        now = datetime.fromisoformat(now_text) if now_text else utcnow()
    except ValueError:
        fail(f"--now: not an ISO datetime: {now_text!r}")
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            report = report_for(session, settings, now, start, end, company, manager)
    except PeriodError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    render = {"table": render_table, "json": render_json, "csv": render_csv}[fmt]
    click.echo(render(report))
