"""``deskpilot cabinet``: issue, rotate, revoke and list client cabinet links."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from plugin.cabinet.links import MAX_DAYS
from plugin.cli.core import fail, local_time, settings_or_exit
from plugin.cli.params import company as _company
from plugin.settings import Settings

T = TypeVar("T")
_EXPIRES = click.option("--expires", "days", type=click.IntRange(1, MAX_DAYS), metavar="DAYS",
                        help=f"the link stops working after DAYS days, 1…{MAX_DAYS} "
                             "(default: never)")
#: company ids are case-insensitive: the canonical form (``ACME`` is ``acme``) is looked up
_COMPANY = click.argument("company", callback=_company)


def _base_url(settings: Settings) -> str:
    """Where clients open the cabinet: ``public_url`` when it is set, else the running
    ``deskpilot up``'s own address (its ``--port``), else the default with a hint."""
    from dataclasses import fields

    from plugin.up_state import read_state

    default = next(f.default for f in fields(Settings) if f.name == "public_url")
    if settings.public_url != default:
        return settings.public_url.rstrip("/")
    url = read_state(settings.var_dir).get("url")
    if isinstance(url, str) and url:
        return url.rstrip("/")
    click.echo(f"note: public_url is not set in deskpilot.yaml and no `deskpilot up` is "
               f"running: the link uses {default}; set public_url to the address your "
               "clients reach", err=True)
    return default.rstrip("/")


def _run(fn: Callable[[Any], T]) -> tuple[T, Settings]:
    from plugin.cabinet.links import LinkError
    from plugin.storage.db import Database

    settings = settings_or_exit(database=True)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            return fn(session), settings
    except LinkError as exc:
        fail(str(exc))
    finally:
        db.dispose()


def _print(issued: Any, settings: Settings) -> None:
    base = _base_url(settings)
    click.echo(f"{base}/cabinet/{issued.token}")
    until = (local_time(issued.expires_at, settings.tz) if issued.expires_at
             else "never (until rotated)")
    click.echo(f"company {issued.company_id}; expires {until}; JSON: "
               f"{base}/api/cabinet with 'Authorization: Bearer {issued.token}'", err=True)
    if issued.revoked:
        click.echo(f"{issued.revoked} earlier link(s) revoked", err=True)


@click.group("cabinet")
def cabinet_group() -> None:
    """Client cabinet links: each company's secret, read-only page of its tasks and credits."""


@cabinet_group.command("link")
@_COMPANY
@_EXPIRES
def link_cmd(company: str, days: int | None) -> None:
    """Issue COMPANY's cabinet link and print it (shown once: only its hash is stored)."""
    from plugin.cabinet.links import issue
    from plugin.storage.db import utcnow

    issued, settings = _run(lambda s: issue(s, company, utcnow(), days))
    _print(issued, settings)


@cabinet_group.command("rotate")
@_COMPANY
@_EXPIRES
def rotate_cmd(company: str, days: int | None) -> None:
    """Replace COMPANY's link: the old one answers 404 from now on."""
    from plugin.cabinet.links import rotate
    from plugin.storage.db import utcnow

    issued, settings = _run(lambda s: rotate(s, company, utcnow(), days))
    _print(issued, settings)


@cabinet_group.command("revoke")
@_COMPANY
def revoke_cmd(company: str) -> None:
    """Revoke COMPANY's links without issuing a new one."""
    from plugin.cabinet.links import revoke
    from plugin.storage.db import utcnow

    n, _ = _run(lambda s: revoke(s, company, utcnow()))
    click.echo(f"{n} link(s) of {company} revoked")


@cabinet_group.command("list")
@click.argument("company", required=False, callback=_company)
def list_cmd(company: str | None) -> None:
    """Every link's company, state, creation and expiry (tokens are not stored)."""
    from plugin.cabinet.links import describe
    from plugin.storage.db import utcnow

    rows, settings = _run(lambda s: describe(s, company, utcnow()))
    if not rows:
        click.echo("no cabinet links")

    def shown(iso: str) -> str:  # instants in the installation's zone, named
        return iso if iso == "never" else local_time(datetime.fromisoformat(iso), settings.tz)

    for r in rows:
        click.echo(f"{r['company']:<24} {r['state']:<8} created {shown(r['created'])}  "
                   f"expires {shown(r['expires'])}")
