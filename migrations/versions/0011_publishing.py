"""Publishing engine: per-target publish state (idempotency key, checkpoints, claim) and
per-channel inbound sync cursors.

Revision ID: 0011_publishing
Revises: 0010_notifications
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0011_publishing"
down_revision = "0010_notifications"
branch_labels = None
depends_on = None


def _tenant_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "publish_states",
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("checkpoints", sa.JSON(), nullable=False),
        sa.Column("in_flight", sa.Boolean(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        *_tenant_columns(),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_publish_states_post_id_posts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_publish_states_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_states")),
        sa.UniqueConstraint("agency_id", "target_id", name="uq_publish_states_target"),
    )
    op.create_index(
        op.f("ix_publish_states_agency_id"), "publish_states", ["agency_id"], unique=False
    )
    op.create_table(
        "channel_syncs",
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("cursor", sa.String(length=500), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        *_tenant_columns(),
        sa.ForeignKeyConstraint(
            ["agency_id", "channel_id"],
            ["channels.agency_id", "channels.id"],
            name="fk_channel_syncs_channel_id_channels",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_channel_syncs_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_syncs")),
        sa.UniqueConstraint("agency_id", "channel_id", name="uq_channel_syncs_channel"),
    )
    op.create_index(
        op.f("ix_channel_syncs_agency_id"), "channel_syncs", ["agency_id"], unique=False
    )
    for table in ("publish_states", "channel_syncs"):
        enable_rls(op, table)


def downgrade() -> None:
    for table in ("channel_syncs", "publish_states"):
        disable_rls(op, table)
    op.drop_index(op.f("ix_channel_syncs_agency_id"), table_name="channel_syncs")
    op.drop_table("channel_syncs")
    op.drop_index(op.f("ix_publish_states_agency_id"), table_name="publish_states")
    op.drop_table("publish_states")
