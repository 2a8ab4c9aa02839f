"""Onboarding: agency legal details, invitations, channels, approval policies, audit log.

Revision ID: 0002_onboarding
Revises: 0001_foundation
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0002_onboarding"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

TENANT_TABLES = ("audit_events", "approval_policies", "channels")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_audit_events_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_actor_id"), "audit_events", ["actor_id"], unique=False)
    op.create_index(op.f("ix_audit_events_agency_id"), "audit_events", ["agency_id"], unique=False)
    op.create_index(op.f("ix_audit_events_client_id"), "audit_events", ["client_id"], unique=False)
    op.create_table(
        "invitations",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_client_ids", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_accepted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_invitations_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_agency_id"), "invitations", ["agency_id"], unique=False)
    op.create_index(op.f("ix_invitations_client_id"), "invitations", ["client_id"], unique=False)
    op.create_table(
        "approval_policies",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("internal_review", sa.Boolean(), nullable=False),
        sa.Column("client_approval", sa.String(length=10), nullable=False),
        sa.Column("approver_ids", sa.JSON(), nullable=False),
        sa.Column("reply_policy", sa.String(length=20), nullable=False),
        sa.Column("lead_time_hours", sa.Integer(), nullable=False),
        sa.Column("reminder_hours", sa.JSON(), nullable=False),
        sa.Column("late_rule", sa.String(length=30), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_approval_policies_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client_companies.id"],
            name=op.f("fk_approval_policies_client_id_client_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_policies")),
        sa.UniqueConstraint("client_id", name="uq_approval_policies_client_id"),
    )
    op.create_index(
        op.f("ix_approval_policies_agency_id"), "approval_policies", ["agency_id"], unique=False
    )
    op.create_table(
        "channels",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("network", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("handle", sa.String(length=200), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("credentials_encrypted", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_channels_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client_companies.id"],
            name=op.f("fk_channels_client_id_client_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
    )
    op.create_index(op.f("ix_channels_agency_id"), "channels", ["agency_id"], unique=False)
    op.create_index(op.f("ix_channels_client_id"), "channels", ["client_id"], unique=False)
    op.add_column("agencies", sa.Column("legal_name", sa.String(length=300), nullable=True))
    op.add_column("agencies", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("agencies", sa.Column("vat_number", sa.String(length=40), nullable=True))
    op.add_column("agencies", sa.Column("fiscal_code", sa.String(length=40), nullable=True))
    op.add_column("agencies", sa.Column("address", sa.String(length=500), nullable=True))
    op.add_column("agencies", sa.Column("tax_regime", sa.String(length=4), nullable=True))
    op.add_column("agencies", sa.Column("logo_filename", sa.String(length=200), nullable=True))
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_column("agencies", "logo_filename")
    op.drop_column("agencies", "tax_regime")
    op.drop_column("agencies", "address")
    op.drop_column("agencies", "fiscal_code")
    op.drop_column("agencies", "vat_number")
    op.drop_column("agencies", "country")
    op.drop_column("agencies", "legal_name")
    op.drop_index(op.f("ix_channels_client_id"), table_name="channels")
    op.drop_index(op.f("ix_channels_agency_id"), table_name="channels")
    op.drop_table("channels")
    op.drop_index(op.f("ix_approval_policies_agency_id"), table_name="approval_policies")
    op.drop_table("approval_policies")
    op.drop_index(op.f("ix_invitations_client_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_agency_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(op.f("ix_audit_events_client_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_agency_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor_id"), table_name="audit_events")
    op.drop_table("audit_events")
