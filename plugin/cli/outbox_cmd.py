"""``deskpilot outbox list|show|resend|discard``: the writes the host refused.

The record lives in the database (outbox rows in state ``failed``), so it survives an
embedded Redis that forgot its failed jobs. ``resend`` pushes the rows at once from this
process and prints what the host said.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from plugin.cli.core import fail, local_time, settings_or_exit
from plugin.cli.params import ROW_ID

if TYPE_CHECKING:
    from plugin.context import Context


@click.group("outbox")
def outbox_group() -> None:
    """Writes the host refused: list, show, resend, discard."""


def _context() -> Context:
    from plugin.context import build_context, set_context

    ctx = build_context(settings_or_exit(database=True))
    set_context(ctx)
    return ctx


def _close(ctx: Context) -> None:
    from plugin.context import set_context

    set_context(None)
    ctx.close()


def _ids(ids: tuple[int, ...], every: bool, ctx: Context, connection: str | None) -> list[int]:
    from plugin.outbox.refusals import failed_ids

    if bool(ids) == every:
        raise click.UsageError("give outbox row IDs or --all")
    if every:
        with ctx.db.session() as session:
            return failed_ids(session, connection)
    return list(ids)


@outbox_group.command("list")
@click.option("--connection", default=None, help="Only this host connection.")
@click.option("--discarded", is_flag=True, help="Include discarded rows.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def outbox_list(connection: str | None, discarded: bool, as_json: bool) -> None:
    """Writes the host refused (newest first): id, ticket, what, host status and message."""
    from plugin.outbox.refusals import list_refused

    ctx = _context()
    tz = ctx.settings.tz  # when a write failed, in the installation's zone, named
    try:
        with ctx.db.session() as session:
            rows = list_refused(session, connection=connection, discarded=discarded)
    finally:
        _close(ctx)
    if not rows:  # stdout stays empty for scripts; a person sees why
        click.echo("no refused writes: the hosts took every write"
                   f"{'' if discarded else ' (discarded ones: --discarded)'}", err=True)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r.as_dict(), ensure_ascii=False))
            continue
        when = local_time(r.failed_at, tz, seconds=True)
        click.echo(f"{r.id}\t{r.connection}/{r.ticket_id}\t{r.state}\t{when}\t"
                   f"attempts={r.attempts}\t{r.what}\tHTTP {r.status or '-'}: {r.message}")


@outbox_group.command("show")
@click.argument("row_id", type=ROW_ID)
def outbox_show(row_id: int) -> None:
    """One outbox row in full (JSON), with the command it would write."""
    from plugin.outbox.refusals import get_row

    ctx = _context()
    try:
        with ctx.db.session() as session:
            row = get_row(session, row_id)
    finally:
        _close(ctx)
    if row is None:
        fail(f"no outbox row #{row_id}")
    click.echo(json.dumps(row.as_dict(), indent=2, ensure_ascii=False))


@outbox_group.command("resend")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--all", "every", is_flag=True, help="Every failed row.")
@click.option("--connection", default=None, help="With --all: only this connection.")
def outbox_resend(ids: tuple[int, ...], every: bool, connection: str | None) -> None:
    """Send failed rows again now (after the host or the config was fixed)."""
    from plugin.outbox.push import PushFailed, push_ticket
    from plugin.outbox.refusals import NotFailed, requeue

    ctx = _context()
    failed = False
    try:
        wanted = _ids(ids, every, ctx, connection)
        if not wanted:
            click.echo("nothing to resend")
            return
        try:
            with ctx.db.session() as session:
                tickets = requeue(session, wanted)
        except NotFailed as exc:
            fail(str(exc))
        for conn_name, ticket_id in tickets:
            try:
                outcome = push_ticket(conn_name, ticket_id)
            except PushFailed as exc:
                failed = True
                outcome = f"failed again: {exc}"
            click.echo(f"{conn_name}/{ticket_id}: {outcome}")
    finally:
        _close(ctx)
    if failed:
        raise SystemExit(1)


@outbox_group.command("discard")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--all", "every", is_flag=True, help="Every failed row.")
@click.option("--connection", default=None, help="With --all: only this connection.")
@click.option("--reason", required=True, help="Why the write is given up (kept on the row).")
def outbox_discard(ids: tuple[int, ...], every: bool, connection: str | None,
                   reason: str) -> None:
    """Give failed rows up, with a reason; they leave the list (see --discarded)."""
    from plugin.outbox.refusals import NotFailed, discard
    from plugin.storage.db import utcnow

    ctx = _context()
    try:
        wanted = _ids(ids, every, ctx, connection)
        try:
            with ctx.db.session() as session:
                count = discard(session, wanted, reason, utcnow())
        except NotFailed as exc:
            fail(str(exc))
    finally:
        _close(ctx)
    click.echo(f"discarded {count}")
