"""Alembic environment: the URL comes from Deskpilot's settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context

# every model module must be imported so autogenerate and checks see all tables
from plugin import tables as registry  # noqa: F401  (imports the other capabilities' models)
from plugin.storage.db import make_engine
from plugin.storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = str(config.attributes.get("url") or config.get_main_option("sqlalchemy.url"))
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
