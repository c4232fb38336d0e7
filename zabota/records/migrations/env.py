"""Alembic's environment: the URL comes from the caller (zabota.records.migrate), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from zabota.records.schema import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("zabota.records.migrate sets sqlalchemy.url")

# SQLite cannot ALTER most things in place: batch mode rebuilds the table (render_as_batch)
batch = url.startswith("sqlite")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=batch)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=batch)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
