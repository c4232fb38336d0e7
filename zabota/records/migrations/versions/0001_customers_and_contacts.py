"""customers, their phones, emails, accounts, consent and contacts

Revision ID: 0001
Revises:
Create Date: 2026-12-07 15:24:39.133579
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("segment", sa.String(length=8), nullable=True),
        sa.Column("age_band", sa.String(length=16), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("preferred_channel", sa.String(length=16), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_customers_external_id")),
    )
    op.create_table(
        "channel_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_channel_consents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_consents")),
        sa.UniqueConstraint("customer_id", "channel", name=op.f("uq_channel_consents_customer_id_channel")),
    )
    with op.batch_alter_table("channel_consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_consents_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("articles", sa.JSON(), nullable=False),
        sa.Column("flows", sa.JSON(), nullable=False),
        sa.Column("feedback", sa.String(length=16), nullable=True),
        sa.Column("handoff_id", sa.String(length=64), nullable=True),
        sa.Column("handoff_priority", sa.String(length=4), nullable=True),
        sa.Column("handoff_outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contacts_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_customer_started", ["customer_id", "started_at"], unique=False)

    op.create_table(
        "customer_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("account_number", sa.String(length=32), nullable=False),
        sa.Column("contract_number", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_accounts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_accounts")),
        sa.UniqueConstraint("account_number", name=op.f("uq_customer_accounts_account_number")),
    )
    with op.batch_alter_table("customer_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_accounts_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "customer_emails",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_emails_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_emails")),
        sa.UniqueConstraint("customer_id", "email", name=op.f("uq_customer_emails_customer_id_email")),
    )
    with op.batch_alter_table("customer_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_emails_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_emails_email"), ["email"], unique=False)

    op.create_table(
        "customer_phones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_phones_customer_id_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_phones")),
        sa.UniqueConstraint("customer_id", "phone", name=op.f("uq_customer_phones_customer_id_phone")),
    )
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_phones_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_customer_phones_phone"), ["phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_phones_phone"))
        batch_op.drop_index(batch_op.f("ix_customer_phones_customer_id"))

    op.drop_table("customer_phones")
    with op.batch_alter_table("customer_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_emails_email"))
        batch_op.drop_index(batch_op.f("ix_customer_emails_customer_id"))

    op.drop_table("customer_emails")
    with op.batch_alter_table("customer_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_accounts_customer_id"))

    op.drop_table("customer_accounts")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_customer_started")

    op.drop_table("contacts")
    with op.batch_alter_table("channel_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_consents_customer_id"))

    op.drop_table("channel_consents")
    op.drop_table("customers")
