"""Storage: SQLAlchemy models, engine/session factory, alembic migrations."""

from plugin.storage.db import Database, utcnow
from plugin.storage.models import Base, Company, Event, Ticket

__all__ = ["Base", "Company", "Database", "Event", "Ticket", "utcnow"]
