from __future__ import annotations

import pytest

from zabota.records.settings import DEFAULT_SQLITE_PATH, RecordsSettings


def test_sqlite_file_by_default() -> None:
    settings = RecordsSettings.from_env({})
    assert settings.url == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    assert settings.dialect == "sqlite"
    assert settings.sqlite_path == DEFAULT_SQLITE_PATH
    assert settings.async_url.startswith("sqlite+aiosqlite:////")


def test_postgres_gets_the_psycopg_driver_and_its_password_is_never_logged() -> None:
    settings = RecordsSettings.from_env({"DATABASE_URL": "postgresql://care:s3cret@db.internal:5432/zabota"})
    assert settings.dialect == "postgresql"
    assert settings.async_url == "postgresql+psycopg://care:s3cret@db.internal:5432/zabota"
    assert settings.sync_url == settings.async_url
    assert settings.redacted() == "postgresql://care:***@db.internal:5432/zabota"
    assert settings.sqlite_path is None


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="only sqlite:// and postgresql://"):
        RecordsSettings.from_env({"DATABASE_URL": "mysql://root@localhost/zabota"})
