"""In-app notifications about a channel (it needs reconnecting): ``post_id`` becomes optional,
``channel_id`` → ``channels (agency_id, id)``, and a row names exactly one of the two.
The table's row-level security policy is unchanged (it keys on ``agency_id`` only).

Revision ID: 0016_channel_notifications
Revises: 0015_addresses_stripe
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_channel_notifications"
down_revision = "0015_addresses_stripe"
branch_labels = None
depends_on = None

ONE_SUBJECT = (
    "(post_id IS NULL AND channel_id IS NOT NULL) OR (post_id IS NOT NULL AND channel_id IS NULL)"
)


def upgrade() -> None:
    # SQLite: the batch rebuilds the table (its FKs and indexes copied); PostgreSQL: plain ALTERs.
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("channel_id", sa.Uuid(), nullable=True))
        batch.alter_column("post_id", existing_type=sa.Uuid(), nullable=True)
        batch.create_foreign_key(
            "fk_notifications_channel_id_channels",
            "channels",
            ["agency_id", "channel_id"],
            ["agency_id", "id"],
            ondelete="CASCADE",
        )
        batch.create_check_constraint(op.f("ck_notifications_one_subject"), ONE_SUBJECT)


def downgrade() -> None:
    # Channel notices cannot exist without a post: they go (the FORCEd RLS binds us too, so
    # agency by agency on PostgreSQL).
    bind = op.get_bind()
    delete = sa.text("DELETE FROM notifications WHERE channel_id IS NOT NULL")
    if bind.dialect.name == "postgresql":
        for (agency_id,) in bind.execute(sa.text("SELECT id FROM agencies")).all():
            bind.execute(
                sa.text("SELECT set_config('app.agency_id', :a, true)"), {"a": str(agency_id)}
            )
            bind.execute(delete)
        bind.execute(sa.text("SELECT set_config('app.agency_id', '', true)"))
    else:
        bind.execute(delete)
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint(op.f("ck_notifications_one_subject"), type_="check")
        batch.drop_constraint("fk_notifications_channel_id_channels", type_="foreignkey")
        batch.alter_column("post_id", existing_type=sa.Uuid(), nullable=False)
        batch.drop_column("channel_id")
