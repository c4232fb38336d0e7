"""Revision 0003 (the events table) on both dialects: SQLite always, and the session's database (PostgreSQL when
it answers), from a database at 0002 that already holds customers and contacts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool, text

from zabota.events import Event
from zabota.events.store import EventStore
from zabota.records import create_engine as create_async_records_engine
from zabota.records.migrate import current_revision, downgrade, head_revision, upgrade
from zabota.records.schema import Base
from zabota.records.settings import RecordsSettings

EVENT_INDEXES = {
    "ix_events_at": ["at"],
    "ix_events_kind_at": ["kind", "at"],
    "ix_events_customer_at": ["customer_id", "at"],
    "ix_events_ref": ["ref"],
}


@pytest.fixture(params=["sqlite", "session"])
def database(
    request: pytest.FixtureRequest, sqlite_settings: RecordsSettings, make_database: Callable[[], RecordsSettings]
) -> RecordsSettings:
    return sqlite_settings if request.param == "sqlite" else make_database()


def _seed_0002(settings: RecordsSettings) -> None:
    engine = create_engine(settings.sync_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO customers (id, tags, created_at, updated_at) "
                    "VALUES ('c-0123456789abcdef', '[]', '2026-12-01 10:00:00+00', '2026-12-01 10:00:00+00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO contacts (id, customer_id, channel, started_at, intents, articles, flows) "
                    "VALUES ('k-1', 'c-0123456789abcdef', 'webchat', '2026-12-01 10:00:00+00', '[]', '[]', '[]')"
                )
            )
    finally:
        engine.dispose()


async def test_0003_adds_the_events_table_to_a_database_in_use_and_removes_it_again(
    database: RecordsSettings,
) -> None:
    upgrade(database, "0002")
    _seed_0002(database)
    upgrade(database, "0003")

    engine = create_engine(database.sync_url, poolclass=pool.NullPool)
    try:
        inspector = inspect(engine)
        columns = {column["name"]: column for column in inspector.get_columns("events")}
        assert list(columns) == ["id", "at", "kind", "customer_id", "channel", "lang", "ref", "data"]
        assert [name for name, column in columns.items() if not column["nullable"]] == ["id", "at", "kind", "data"]
        assert inspector.get_pk_constraint("events")["constrained_columns"] == ["id"]
        assert inspector.get_foreign_keys("events") == []  # an event may come before its customer's row
        indexes = {index["name"]: index["column_names"] for index in inspector.get_indexes("events")}
        assert indexes == EVENT_INDEXES
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 1
    finally:
        engine.dispose()

    # the new table takes events (ON CONFLICT in this dialect) on the upgraded database
    async_engine = create_async_records_engine(database)
    try:
        store = EventStore(async_engine)
        event = Event("survey_answer", 1_765_000_000.0, customer_id="c-unknown", data={"csat": 5})
        assert await store.insert_events([event, event]) == 1
        assert await store.insert_events([event]) == 0
    finally:
        await async_engine.dispose()

    downgrade(database, "0002")
    engine = create_engine(database.sync_url, poolclass=pool.NullPool)
    try:
        assert "events" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM customers")).scalar_one() == 1
    finally:
        engine.dispose()
    upgrade(database)  # and up again
    assert current_revision(database) == head_revision()


def test_the_migrations_build_exactly_the_schema_of_the_code_on_either_dialect(database: RecordsSettings) -> None:
    upgrade(database)
    engine = create_engine(database.sync_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()
