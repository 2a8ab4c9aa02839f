"""In-app notifications (issue 8): one row per member per event, tenant-owned (RLS forced).

Revision ID: 0010_notifications
Revises: 0009_usage
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0010_notifications"
down_revision = "0009_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=30), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_notifications_post_id_posts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_notifications_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_agency_id"), "notifications", ["agency_id"], unique=False
    )
    op.create_index(
        "ix_notifications_agency_id_user_id_read_at",
        "notifications",
        ["agency_id", "user_id", "read_at"],
        unique=False,
    )
    enable_rls(op, "notifications")


def downgrade() -> None:
    disable_rls(op, "notifications")
    op.drop_index("ix_notifications_agency_id_user_id_read_at", table_name="notifications")
    op.drop_index(op.f("ix_notifications_agency_id"), table_name="notifications")
    op.drop_table("notifications")
