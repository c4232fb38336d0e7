from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, pool

from zabota.records.migrate import current_revision, downgrade, head_revision, upgrade
from zabota.records.schema import Base
from zabota.records.settings import RecordsSettings


def test_the_migrations_build_exactly_the_schema_of_the_code(make_database: Callable[[], RecordsSettings]) -> None:
    settings = make_database()
    upgrade(settings)
    engine = create_engine(settings.sync_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
    assert current_revision(settings) == head_revision()


def test_upgrade_is_idempotent_and_downgrade_removes_every_table(make_database: Callable[[], RecordsSettings]) -> None:
    settings = make_database()
    upgrade(settings)
    upgrade(settings)  # already there: nothing to do
    downgrade(settings, "base")
    engine = create_engine(settings.sync_url, poolclass=pool.NullPool)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert current_revision(settings) is None


def test_the_embedded_default_creates_its_sqlite_file(sqlite_settings: RecordsSettings) -> None:
    assert sqlite_settings.sqlite_path is not None and not sqlite_settings.sqlite_path.exists()
    upgrade(sqlite_settings)
    assert sqlite_settings.sqlite_path.exists()
    assert current_revision(sqlite_settings) == head_revision()
