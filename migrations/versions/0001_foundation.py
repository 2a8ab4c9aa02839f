"""Foundation: agencies, users, memberships, client companies, staff assignments, API tokens.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("default_locale", sa.String(8), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("default_currency", sa.String(3), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("slug", name="uq_agencies_slug"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("locale", sa.String(8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_changed_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name="fk_memberships_agency_id_agencies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
        sa.UniqueConstraint("user_id", "agency_id", "client_id", name="uq_membership"),
    )
    op.create_index("ix_memberships_agency_id", "memberships", ["agency_id"])
    op.create_index("ix_memberships_client_id", "memberships", ["client_id"])
    op.create_table(
        "client_companies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("legal_name", sa.String(300), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("vat_number", sa.String(40), nullable=True),
        sa.Column("fiscal_code", sa.String(40), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("billing_email", sa.String(320), nullable=True),
        sa.Column("sdi_code", sa.String(7), nullable=True),
        sa.Column("pec", sa.String(320), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name="fk_client_companies_agency_id_agencies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_client_companies"),
        sa.UniqueConstraint("agency_id", "name", name="uq_client_companies_name"),
    )
    op.create_index("ix_client_companies_agency_id", "client_companies", ["agency_id"])
    op.create_table(
        "staff_assignments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name="fk_staff_assignments_agency_id_agencies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name="fk_staff_assignments_membership_id_memberships",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client_companies.id"],
            name="fk_staff_assignments_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_staff_assignments"),
        sa.UniqueConstraint("membership_id", "client_id", name="uq_staff_assignment"),
    )
    op.create_index("ix_staff_assignments_agency_id", "staff_assignments", ["agency_id"])
    op.create_index("ix_staff_assignments_membership_id", "staff_assignments", ["membership_id"])
    op.create_index("ix_staff_assignments_client_id", "staff_assignments", ["client_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("last_used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name="fk_api_tokens_agency_id_agencies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_agency_id", "api_tokens", ["agency_id"])
    for table in ("client_companies", "staff_assignments"):
        enable_rls(op, table)


def downgrade() -> None:
    for table in ("staff_assignments", "client_companies"):
        disable_rls(op, table)
    op.drop_table("api_tokens")
    op.drop_table("staff_assignments")
    op.drop_table("client_companies")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("agencies")
