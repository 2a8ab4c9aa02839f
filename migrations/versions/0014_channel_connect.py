"""Verified channel connections: account details and check times; cached Mastodon OAuth apps.

Revision ID: 0014_channel_connect
Revises: 0013_billing
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0014_channel_connect"
down_revision = "0013_billing"
branch_labels = None
depends_on = None

NEW_COLUMNS = ("display_name", "avatar_url", "verified_at", "checked_at", "check_error")


def upgrade() -> None:
    # Plain ALTER TABLE (SQLite too): a batch copy would lose the lower(name) unique index.
    op.add_column("channels", sa.Column("display_name", sa.String(length=200), nullable=True))
    op.add_column("channels", sa.Column("avatar_url", sa.String(length=2000), nullable=True))
    op.add_column("channels", sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("channels", sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("channels", sa.Column("check_error", sa.Text(), nullable=True))
    op.create_table(
        "mastodon_apps",
        sa.Column("instance_url", sa.String(length=500), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_mastodon_apps_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mastodon_apps")),
        sa.UniqueConstraint(
            "agency_id", "instance_url", "redirect_uri", name="uq_mastodon_apps_instance"
        ),
    )
    op.create_index(
        op.f("ix_mastodon_apps_agency_id"), "mastodon_apps", ["agency_id"], unique=False
    )
    enable_rls(op, "mastodon_apps")


def downgrade() -> None:
    disable_rls(op, "mastodon_apps")
    op.drop_index(op.f("ix_mastodon_apps_agency_id"), table_name="mastodon_apps")
    op.drop_table("mastodon_apps")
    for name in reversed(NEW_COLUMNS):
        op.drop_column("channels", name)  # SQLite 3.35+ drops a column in place
