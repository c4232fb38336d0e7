"""The system of record: customers (profile, phones, emails, accounts, consent per channel) and every contact
with them (channel, intents, what the bot answered, feedback, handoff and its outcome), in SQL.

SQLAlchemy 2 with Alembic migrations (zabota/records/migrations). SQLite file by default (``make run`` needs no
set-up), PostgreSQL through ``DATABASE_URL`` in production and in the tests. Redis keeps the hot, expiring state
(conversation history, identities, queues); this is what must outlive it.

    settings = RecordsSettings.from_env()
    upgrade(settings)                          # migrations, idempotent
    records = CustomerRecords(create_engine(settings))
    await records.upsert_customer(CustomerData(external_id="crm-42", name="Анна", phones=("+79161234567",)))
"""

from zabota.records.settings import RecordsSettings
from zabota.records.store import (
    ContactData,
    CustomerData,
    CustomerRecord,
    CustomerRecords,
    RecordError,
    create_engine,
)

__all__ = [
    "ContactData",
    "CustomerData",
    "CustomerRecord",
    "CustomerRecords",
    "RecordError",
    "RecordsSettings",
    "create_engine",
]
