"""Before a command reads or writes the database: is its schema there, at this version's head?

``deskpilot up`` migrates at start, so a fresh deployment on the embedded default just works
there; the commands that read and write the database (``credits``, ``report``, ``outbox``,
``cabinet``, ``hosts``, ``rules replay``, ``scheduler tick``) do the same for an embedded
SQLite file that does not exist yet (or is empty): they create it, migrate it to head and
say so in one line on stderr. Anything else is the operator's decision and is refused with
one line naming ``deskpilot db upgrade`` (exit 1, as the error boundary does): a database
with no Deskpilot schema (PostgreSQL, an in-memory or a foreign file) and one at an older
revision (back it up, then upgrade). A revision this version does not know (a newer
Deskpilot migrated it) is left to the command, as are tables made without migrations
(tests' ``create_all``).
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from plugin.settings import Settings

#: a table every migrated schema has, whatever its revision
MARKER_TABLE = "tickets"


class SchemaNotReady(Exception):
    """The database needs ``deskpilot db upgrade`` first; the message says why."""


def embedded_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL; ``None`` for in-memory SQLite and PostgreSQL."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    name = parsed.database or ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def _state(url: str) -> tuple[str | None, bool]:
    """``(alembic revision, whether Deskpilot's tables exist)``."""
    from alembic.runtime.migration import MigrationContext

    from plugin.storage.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
            return revision, inspect(conn).has_table(MARKER_TABLE)
    finally:
        engine.dispose()


def ensure_schema(settings: Settings) -> None:
    """Create and migrate a new embedded database, pass a current one, refuse the rest
    (:class:`SchemaNotReady`)."""
    from alembic.script import ScriptDirectory

    from plugin.storage.migrate import alembic_config, head_revision, upgrade

    url = settings.database_url
    path = embedded_file(url)
    if path is not None and (not path.exists() or path.stat().st_size == 0):
        upgrade(url, "head")
        click.echo(f"created the embedded database {path} (migrated to revision "
                   f"{head_revision()}, as `deskpilot up` does at start)", err=True)
        return
    revision, has_tables = _state(url)
    head = head_revision()
    if revision == head or (revision is None and has_tables):
        return
    if revision is None:
        raise SchemaNotReady("the database has no Deskpilot schema yet: run `deskpilot db "
                             "upgrade` (`deskpilot up` does it at start)")
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}
    if revision in known:
        raise SchemaNotReady(f"the database is at revision {revision}, this Deskpilot needs "
                             f"{head}: back it up, then run `deskpilot db upgrade`")
