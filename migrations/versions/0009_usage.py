"""Billable usage rows, one per published target (billing.usage).

Revision ID: 0009_usage
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0009_usage"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_usage_records_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_usage_records_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("agency_id", "target_id", name="uq_usage_records_target"),
    )
    op.create_index(
        op.f("ix_usage_records_agency_id"), "usage_records", ["agency_id"], unique=False
    )
    op.create_index(
        "ix_usage_records_agency_id_client_id_period",
        "usage_records",
        ["agency_id", "client_id", "period"],
        unique=False,
    )
    enable_rls(op, "usage_records")


def downgrade() -> None:
    disable_rls(op, "usage_records")
    op.drop_index("ix_usage_records_agency_id_client_id_period", table_name="usage_records")
    op.drop_index(op.f("ix_usage_records_agency_id"), table_name="usage_records")
    op.drop_table("usage_records")
