"""The CLI's argument types, each stated once: company ids in their canonical form and
bounded numbers.

Every integer a command takes has a range, so a number out of it is a usage error (one
``error:`` line, exit 2, :mod:`plugin.cli.boundary`) before anything is read or written,
never an ``OverflowError`` from the database driver. The credits commands' ``--tasks`` and
``--units`` are checked with the admin API's own request schemas instead
(``plugin.cli.credits_cmd``), so the CLI and the API keep one set of bounds.
"""

from __future__ import annotations

import click

#: a database row id (the ``outbox`` table's ``id`` is an ``Integer``: 32 bits on PostgreSQL)
ROW_ID = click.IntRange(1, 2**31 - 1)
#: a TCP port
PORT = click.IntRange(1, 65535)
#: processes or threads of one command (``serve --workers/--threads``, ``rules replay
#: --workers``); the settings' ``worker_count`` has the same ceiling
MAX_PROCESSES = 64
PROCESSES = click.IntRange(1, MAX_PROCESSES)


def company(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A company id argument, canonical: company ids are case-insensitive everywhere, so
    ``ACME`` is ``acme`` (:func:`rules.event.company_key`, as the receiver and the admin API
    read it). An optional argument that was not given stays ``None``."""
    from rules.event import company_key

    if value is None:
        return None
    key = company_key(value)
    if not key:
        raise click.BadParameter("a company id is required")
    return key
