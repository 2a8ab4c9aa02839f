"""Billing: rate cards, time entries, invoices and their lines, numbering counters.

- Every table is tenant-owned (RLS FORCEd) and refers to other tenant tables by
  ``(agency_id, x_id)``.
- On PostgreSQL a finalized invoice is frozen whoever the role: a trigger refuses changes to
  its lines and to its number, amounts, currency, client and period once it left draft (its
  status, payment and Stripe fields still move), and refuses deleting it.

Revision ID: 0013_billing
Revises: 0012_perf
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0013_billing"
down_revision = "0012_perf"
branch_labels = None
depends_on = None

TENANT_TABLES = ("invoice_counters", "invoices", "rate_cards", "time_entries", "invoice_lines")

FREEZE_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION regia_freeze_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a finalized invoice is never deleted'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (NEW.number, NEW.subtotal, NEW.tax, NEW.total, NEW.currency, NEW.client_id, NEW.period,
        NEW.kind, NEW.issued_at, NEW.sequence, NEW.year)
       IS DISTINCT FROM
       (OLD.number, OLD.subtotal, OLD.tax, OLD.total, OLD.currency, OLD.client_id, OLD.period,
        OLD.kind, OLD.issued_at, OLD.sequence, OLD.year)
       OR NEW.status = 'draft' THEN
        RAISE EXCEPTION 'a finalized invoice is frozen' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$
""",
    """
CREATE OR REPLACE FUNCTION regia_freeze_invoice_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    invoice_status text;
BEGIN
    SELECT status INTO invoice_status FROM invoices
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    IF TG_OP = 'UPDATE' AND OLD.invoice_id IS DISTINCT FROM NEW.invoice_id THEN
        RAISE EXCEPTION 'a line never moves to another invoice'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF invoice_status IS NOT NULL AND invoice_status <> 'draft' THEN
        RAISE EXCEPTION 'the lines of a finalized invoice are frozen'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$
""",
)


def upgrade() -> None:
    op.create_table(
        "invoice_counters",
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_invoice_counters_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_counters")),
        sa.UniqueConstraint("agency_id", "series", "year", name="uq_invoice_counters_series_year"),
    )
    with op.batch_alter_table("invoice_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_counters_agency_id"), ["agency_id"], unique=False
        )

    op.create_table(
        "invoices",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credits_invoice_id", sa.Uuid(), nullable=True),
        sa.Column("payment_method", sa.String(length=20), nullable=False),
        sa.Column("stripe_status", sa.String(length=20), nullable=True),
        sa.Column("stripe_invoice_id", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_invoices_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "credits_invoice_id"],
            ["invoices.agency_id", "invoices.id"],
            name="fk_invoices_credits_invoice_id_invoices",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_invoices_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("agency_id", "id", name="uq_invoices_agency_id_id"),
        sa.UniqueConstraint("agency_id", "number", name="uq_invoices_number"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            "ix_invoices_agency_id_client_id", ["agency_id", "client_id"], unique=False
        )
        batch_op.create_index(
            "ix_invoices_agency_id_period_status", ["agency_id", "period", "status"], unique=False
        )

    op.create_table(
        "rate_cards",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("monthly_retainer", sa.BigInteger(), nullable=False),
        sa.Column("posts_included", sa.Integer(), nullable=False),
        sa.Column("price_per_post", sa.BigInteger(), nullable=False),
        sa.Column("price_per_reply", sa.BigInteger(), nullable=False),
        sa.Column("hourly_rate", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_rate_cards_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_rate_cards_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
        sa.UniqueConstraint(
            "agency_id", "client_id", "effective_from", name="uq_rate_cards_version"
        ),
    )
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_cards_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "time_entries",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_time_entries_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_time_entries_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_entries")),
    )
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_entries_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            "ix_time_entries_agency_id_client_id_period",
            ["agency_id", "client_id", "period"],
            unique=False,
        )

    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "invoice_id"],
            ["invoices.agency_id", "invoices.id"],
            name="fk_invoice_lines_invoice_id_invoices",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_invoice_lines_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_lines_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(
            "ix_invoice_lines_agency_id_invoice_id", ["agency_id", "invoice_id"], unique=False
        )

    for name in TENANT_TABLES:
        enable_rls(op, name)
    if op.get_bind().dialect.name == "postgresql":
        for function in FREEZE_FUNCTIONS:
            op.execute(function)
        op.execute(
            "CREATE TRIGGER invoices_frozen BEFORE UPDATE OR DELETE ON invoices "
            "FOR EACH ROW EXECUTE FUNCTION regia_freeze_invoice()"
        )
        op.execute(
            "CREATE TRIGGER invoice_lines_frozen BEFORE INSERT OR UPDATE OR DELETE "
            "ON invoice_lines FOR EACH ROW EXECUTE FUNCTION regia_freeze_invoice_lines()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoice_lines_frozen ON invoice_lines")
        op.execute("DROP TRIGGER IF EXISTS invoices_frozen ON invoices")
        op.execute("DROP FUNCTION IF EXISTS regia_freeze_invoice_lines()")
        op.execute("DROP FUNCTION IF EXISTS regia_freeze_invoice()")
    for name in TENANT_TABLES:
        disable_rls(op, name)
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_lines_agency_id_invoice_id")
        batch_op.drop_index(batch_op.f("ix_invoice_lines_agency_id"))

    op.drop_table("invoice_lines")
    with op.batch_alter_table("time_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_time_entries_agency_id_client_id_period")
        batch_op.drop_index(batch_op.f("ix_time_entries_agency_id"))

    op.drop_table("time_entries")
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_cards_agency_id"))

    op.drop_table("rate_cards")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_agency_id_period_status")
        batch_op.drop_index("ix_invoices_agency_id_client_id")
        batch_op.drop_index(batch_op.f("ix_invoices_agency_id"))

    op.drop_table("invoices")
    with op.batch_alter_table("invoice_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_counters_agency_id"))

    op.drop_table("invoice_counters")
