"""Storage on SQLite and PostgreSQL: migrations, constraints, aware datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from plugin.storage import Company, Database, Event, Ticket
from plugin.storage.migrate import current_revision, downgrade, head_revision, upgrade


def test_migrations_create_the_foundation_tables(db_url):
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()
    db = Database(db_url)
    tables = set(inspect(db.engine).get_table_names())
    assert {"events", "tickets", "companies", "alembic_version"} <= tables
    db.dispose()


def test_migrations_downgrade_to_base_and_up_again(db_url):
    upgrade(db_url)
    downgrade(db_url, "base")
    db = Database(db_url)
    assert "events" not in inspect(db.engine).get_table_names()
    db.dispose()
    upgrade(db_url)
    assert current_revision(db_url) == head_revision()


@pytest.fixture
def db(db_url):
    upgrade(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


def _event(key: str, body: bytes = b"{}") -> Event:
    return Event(connection="c", delivery_key=key, body_sha256="h" * 64, body=body,
                 headers={"X-Test": "1"}, state="queued", attempts=0)


def test_delivery_key_is_unique_per_connection(db):
    with db.session() as s:
        s.add(_event("d-1"))
    with pytest.raises(IntegrityError), db.session() as s:
        s.add(_event("d-1"))
    with db.session() as s:
        other = _event("d-1")
        other.connection = "other"
        s.add(other)
    with db.session() as s:
        assert s.execute(select(Event)).scalars().all().__len__() == 2


def test_datetimes_come_back_aware_in_utc(db):
    kyiv = timezone(timedelta(hours=2))
    filed = datetime(2026, 11, 23, 10, 0, tzinfo=kyiv)
    with db.session() as s:
        s.add(Company(id="acme", name="ACME"))
        s.flush()
        s.add(Ticket(connection="c", host_ticket_id="T-1", company_id="acme", units=2,
                     status="accepted", filed_at=filed, resolve_due=filed + timedelta(hours=8),
                     facts={"logged_minutes": 15}))
    with db.session() as s:
        t = s.execute(select(Ticket)).scalar_one()
        assert t.filed_at == filed and t.filed_at.tzinfo is not None
        assert t.filed_at.utcoffset() == timedelta(0)
        assert t.resolve_due == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
        assert t.facts == {"logged_minutes": 15}


def test_naive_datetimes_are_refused(db):
    with pytest.raises(Exception, match="naive"), db.session() as s:
        s.add(Ticket(connection="c", host_ticket_id="T-2", units=1, status="new",
                     filed_at=datetime(2026, 1, 1), facts={}))
        s.flush()


def test_raw_body_is_kept_byte_for_byte(db):
    body = "{\"subject\": \"Звіт\"}\n".encode() + b"\x00\xff"
    with db.session() as s:
        s.add(_event("bytes", body))
    with db.session() as s:
        assert s.execute(select(Event.body)).scalar_one() == body
