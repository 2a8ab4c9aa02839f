"""Structured addresses, the agency's IBAN and Stripe connection, Stripe sync links and events.

Revision ID: 0015_addresses_stripe
Revises: 0014_channel_connect
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0015_addresses_stripe"
down_revision = "0014_channel_connect"
branch_labels = None
depends_on = None

_ADDRESS = (
    ("postal_code", 20),
    ("city", 100),
    ("province", 40),
)


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite >= 3.35 too): a batch rebuild of client_companies would
    # lose its expression index uq_client_companies_name_ci.
    for table in ("agencies", "client_companies"):
        for name, length in _ADDRESS:
            op.add_column(table, sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column("agencies", sa.Column("iban", sa.String(length=34), nullable=True))
    # Fernet token of {"api_key", "webhook_secret"} (agency.crypto); never rendered back.
    op.add_column("agencies", sa.Column("stripe_secrets", sa.Text(), nullable=True))
    op.create_table(
        "stripe_invoice_links",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("customer", sa.String(length=255), nullable=True),
        sa.Column("invoice", sa.String(length=255), nullable=True),
        sa.Column("sync_status", sa.String(length=20), nullable=False),
        sa.Column("payment_status", sa.String(length=20), nullable=True),
        sa.Column("last_event_created", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_stripe_invoice_links_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_stripe_invoice_links_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_invoice_links")),
        sa.UniqueConstraint("agency_id", "invoice_id", name="uq_stripe_invoice_links_invoice"),
    )
    op.create_index(
        op.f("ix_stripe_invoice_links_agency_id"),
        "stripe_invoice_links",
        ["agency_id"],
        unique=False,
    )
    op.create_index(
        "ix_stripe_invoice_links_agency_id_invoice",
        "stripe_invoice_links",
        ["agency_id", "invoice"],
        unique=False,
    )
    enable_rls(op, "stripe_invoice_links")
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("stripe_created", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_stripe_events_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
        sa.UniqueConstraint("agency_id", "event_id", name="uq_stripe_events_event"),
    )
    op.create_index(
        op.f("ix_stripe_events_agency_id"), "stripe_events", ["agency_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stripe_events_agency_id"), table_name="stripe_events")
    op.drop_table("stripe_events")
    disable_rls(op, "stripe_invoice_links")
    op.drop_index("ix_stripe_invoice_links_agency_id_invoice", table_name="stripe_invoice_links")
    op.drop_index(op.f("ix_stripe_invoice_links_agency_id"), table_name="stripe_invoice_links")
    op.drop_table("stripe_invoice_links")
    for name in ("stripe_secrets", "iban"):
        op.execute(f"ALTER TABLE agencies DROP COLUMN {name}")
    for table in ("client_companies", "agencies"):
        for name, _length in reversed(_ADDRESS):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
