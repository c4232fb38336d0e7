"""Where the system of record lives: ``DATABASE_URL``, read once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the embedded default: a SQLite file next to the other local run state (.run/ is not committed)
DEFAULT_SQLITE_PATH = ROOT / ".run" / "zabota.sqlite3"


@dataclass(frozen=True)
class RecordsSettings:
    """``url`` as written in ``DATABASE_URL``: ``sqlite:///path``, ``postgresql://user@host:5432/db`` (the
    psycopg 3 driver is chosen for it), or a URL that already names its driver."""

    url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RecordsSettings:
        env = os.environ if environ is None else environ
        url = (env.get("DATABASE_URL") or "").strip() or f"sqlite:///{DEFAULT_SQLITE_PATH}"
        return cls(url=url)

    def __post_init__(self) -> None:
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(
                f"DATABASE_URL: only sqlite:// and postgresql:// are supported, not {self.url.split(':')[0]}"
            )

    @property
    def dialect(self) -> str:
        scheme = self.url.split("://", 1)[0]
        name = scheme.split("+", 1)[0]
        return "postgresql" if name in ("postgres", "postgresql") else name

    @property
    def async_url(self) -> str:
        """The URL for the application's async engine (aiosqlite / psycopg 3)."""
        rest = self.url.split("://", 1)[1]
        return f"sqlite+aiosqlite://{rest}" if self.dialect == "sqlite" else f"postgresql+psycopg://{rest}"

    @property
    def sync_url(self) -> str:
        """The URL for Alembic's migrations (sqlite3 / psycopg 3, synchronous)."""
        rest = self.url.split("://", 1)[1]
        return f"sqlite://{rest}" if self.dialect == "sqlite" else f"postgresql+psycopg://{rest}"

    @property
    def sqlite_path(self) -> Path | None:
        if self.dialect != "sqlite":
            return None
        path = self.url.split("://", 1)[1].lstrip("/")
        return (
            None if path in ("", ":memory:") else Path("/" + path) if self.url.startswith("sqlite:////") else Path(path)
        )

    def redacted(self) -> str:
        """The URL without its password, for logs."""
        scheme, rest = self.url.split("://", 1)
        if "@" not in rest:
            return self.url
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"
