"""Migrations of the system of record, run from code (``make db-upgrade``, the stack before the gateway starts,
the tests): ``upgrade(settings)`` brings any database to the newest schema and is a no-op when it is there."""

from __future__ import annotations

from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from zabota.records.settings import RecordsSettings

log = structlog.stdlib.get_logger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(settings: RecordsSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a % in a password must be doubled
    config.set_main_option("sqlalchemy.url", settings.sync_url.replace("%", "%%"))
    return config


def upgrade(settings: RecordsSettings, revision: str = "head") -> None:
    path = settings.sqlite_path
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)
    log.info("records.migrated", database=settings.redacted(), revision=current_revision(settings))


def downgrade(settings: RecordsSettings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def current_revision(settings: RecordsSettings) -> str | None:
    engine = create_engine(settings.sync_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


class NotMigrated(RuntimeError):
    """The database is not at the newest schema: a process refuses to start rather than fail mid-request."""


def ensure_migrated(settings: RecordsSettings) -> None:
    current, head = current_revision(settings), head_revision()
    if current != head:
        raise NotMigrated(
            f"the system of record at {settings.redacted()} is at revision {current}, the code needs {head}: "
            "run `make db-upgrade` (python -m zabota.records upgrade)"
        )


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(RecordsSettings("sqlite://"))).get_current_head()
