"""``deskpilot credits``: buy packages, read balances and statements, adjust by hand."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.orm import Session

from plugin.cli.boundary import refuse_each
from plugin.cli.core import fail, local_time, settings_or_exit
from plugin.cli.params import company as _company

if TYPE_CHECKING:
    from plugin.ledger.plans import Plans
    from plugin.storage.db import Database

T = TypeVar("T")


class _Ledger:
    """The plans and a runner of one-transaction functions whose errors exit 1.

    ``tz`` is the settings' time zone: instants are printed in it, with its abbreviation.
    """

    def __init__(self, plans: Plans, db: Database, tz: tzinfo):
        self.plans = plans
        self.db = db
        self.tz = tz

    def run(self, fn: Callable[[Session], T]) -> T:
        from plugin.ledger import LedgerError, PlansError

        try:
            with self.db.session() as session:
                return fn(session)
        except (LedgerError, PlansError) as exc:
            fail(str(exc), 1)


@contextmanager
def _ledger() -> Iterator[_Ledger]:
    from plugin.ledger import PlansError, load_plans
    from plugin.storage.db import Database

    settings = settings_or_exit(database=True)  # after the options are checked
    try:
        plans = load_plans(settings.config_dir)
    except PlansError as exc:
        fail(str(exc))
    db = Database(settings.database_url)
    try:
        yield _Ledger(plans, db, settings.tz)
    finally:
        db.dispose()


def _validated(schema_name: str, values: dict[str, Any], options: dict[str, str]) -> None:
    """Check CLI values with the admin API's own request schema (the same bounds, once).

    Exits 2 with one line per refused option, e.g. ``--units: Must be greater than …`` or
    ``--tasks: at most 50 tasks per purchase (limits.credits.max_tasks_per_purchase)``.
    """
    from marshmallow import ValidationError

    from plugin.ledger import schemas
    from rules.config.credit_limits import read_credit_limits
    from rules.config.source import SourceError

    try:  # limits.credits of the rules in force, as the admin API reads them
        limits = read_credit_limits(settings_or_exit().config_dir)
    except SourceError as exc:
        fail(str(exc))
    schema = getattr(schemas, schema_name)(limits=limits)
    try:
        schema.load({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        refuse_each(
            f"{options.get(str(field), str(field))}: "
            + ("; ".join(str(m) for m in msgs) if isinstance(msgs, list) else str(msgs))
            for field, msgs in messages.items())


def _instant(text: str | None) -> datetime:
    from plugin.ledger.accounts import LedgerError
    from plugin.ledger.admin import parse_instant
    from plugin.storage.db import utcnow

    if not text:
        return utcnow()
    try:
        return parse_instant(text)
    except LedgerError as exc:
        fail(str(exc))


@click.group("credits")
@click.pass_context
def credits_group(click_ctx: click.Context) -> None:
    """Prepaid credits: packages, balances, statements, manual adjustments."""
    from plugin.context import build_context, set_context
    from plugin.processing.balance import install

    # a purchase or adjustment pushes the balance and resumes held tasks, in this context
    ctx = build_context(settings_or_exit(up_state=True))
    set_context(ctx)
    install()

    def _close() -> None:
        set_context(None)
        ctx.close()

    click_ctx.call_on_close(_close)


@credits_group.command("buy")
@click.argument("company", callback=_company)
@click.option("--tasks", type=int, required=True, help="credits in the package")
@click.option("--price", help="price per task (default: the plan's)")
@click.option("--currency", help="ISO currency (default: the plan's)")
@click.option("--at", "at_text", metavar="ISO", help="purchase time with offset (default: now)")
@click.option("--key", help="idempotency key (default: a new one per call)")
def buy_cmd(
    company: str,
    tasks: int,
    price: str | None,
    currency: str | None,
    at_text: str | None,
    key: str | None,
) -> None:
    """Add a package; refuses fewer tasks than the plan's minimum."""
    from plugin.ledger.admin import buy, parse_money
    from plugin.ledger.hooks import balance_changed

    _validated("PurchaseRequestSchema",
               {"tasks": tasks, "price_per_task": price, "currency": currency, "key": key},
               {"tasks": "--tasks", "price_per_task": "--price", "currency": "--currency",
                "key": "--key"})
    at = _instant(at_text)
    with _ledger() as ledger:
        tz = ledger.tz
        bought = ledger.run(
            lambda s: buy(
                s,
                ledger.plans,
                company,
                tasks,
                at,
                parse_money(price) if price else None,
                currency,
                key or f"cli:{uuid.uuid4()}",
            )
        )
    lot = bought.lot
    if not bought.duplicate:
        balance_changed(company)
    click.echo(
        f"{'already bought' if bought.duplicate else 'bought'}: lot {lot.id}, "
        f"{lot.tasks} tasks x {lot.price_per_task} {lot.currency}, "
        f"expires {local_time(lot.expires_at, tz)}"
    )


@credits_group.command("balance")
@click.argument("company", callback=_company)
@click.option("--at", "at_text", metavar="ISO", help="as of this instant (default: now)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def balance_cmd(company: str, at_text: str | None, as_json: bool) -> None:
    """Balance, reserved and available credits, per package."""
    from plugin.ledger.admin import read_balance
    from plugin.storage.db import utcnow

    now = utcnow()
    at = _instant(at_text) if at_text else now
    with _ledger() as ledger:
        tz = ledger.tz
        bal = ledger.run(lambda s: read_balance(s, ledger.plans, company, at, now))
    if as_json:
        click.echo(json.dumps(bal.to_json()))
        return
    click.echo(
        f"{company} at {local_time(at, tz)}: balance {bal.balance}, reserved {bal.reserved}, "
        f"available {bal.available}" + (f", overdraft {bal.debt}" if bal.debt else "")
    )
    for lot in bal.lots:
        state = "expired" if lot.expired else f"expires {local_time(lot.expires_at, tz)}"
        click.echo(f"  lot {lot.lot_id}: {lot.remaining}/{lot.tasks} left, {state}")
    if not bal.has_account:
        click.echo("  no account: this company has never bought a package")


@credits_group.command("statement")
@click.argument("company", callback=_company)
@click.option("--from", "start", metavar="ISO", help="first instant (default: the beginning)")
@click.option("--to", "end", metavar="ISO", help="exclusive end (default: now)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
def statement_cmd(company: str, start: str | None, end: str | None, fmt: str) -> None:
    """Packages, entries with running balance, burns and money lines."""
    from plugin.ledger.admin import read_statement
    from plugin.ledger.statement import RENDERERS, render_table
    from plugin.storage.db import utcnow

    now = utcnow()
    begin = _instant(start) if start else None
    until = _instant(end) if end else None
    with _ledger() as ledger:
        tz = ledger.tz
        st = ledger.run(lambda s: read_statement(s, company, begin, until, now))
    click.echo(render_table(st, tz) if fmt == "table" else RENDERERS[fmt](st), nl=False)


@credits_group.command("adjust")
@click.argument("company", callback=_company)
@click.option("--units", type=int, required=True, help="+N grants, -N takes credits")
@click.option("--reason", required=True)
@click.option("--author", help="who made the correction")
@click.option("--key", help="idempotency key (default: a new one per call)")
def adjust_cmd(company: str, units: int, reason: str, author: str | None, key: str | None) -> None:
    """A manual correction, kept as its own entry with reason and author."""
    from plugin.ledger.admin import correct
    from plugin.ledger.hooks import balance_changed
    from plugin.storage.db import utcnow

    _validated("AdjustmentRequestSchema",
               {"units": units, "reason": reason, "author": author, "key": key},
               {"units": "--units", "reason": "--reason", "author": "--author", "key": "--key"})
    now = utcnow()
    with _ledger() as ledger:
        entry, new = ledger.run(
            lambda s: correct(
                s,
                ledger.plans,
                company,
                units,
                reason,
                author,
                now,
                key or f"cli:{uuid.uuid4()}",
            )
        )
    if new:
        balance_changed(company)
    click.echo(
        f"{'adjusted' if new else 'already adjusted'}: entry {entry.id}, "
        f"{entry.units:+d} ({entry.reason})"
    )
