"""Content and approval workflow: posts, revisions, targets, approvals, comments, inbox.

- Every new table is tenant-owned (RLS) and refers to other tenant tables by
  ``(agency_id, x_id)``; the referenced ``(agency_id, id)`` unique indexes come first
  (``client_companies``' one may already exist from the dbroles migration 0003).
- ``audit_events`` becomes append-only and ``revisions`` immutable on PostgreSQL: a trigger
  refuses UPDATE/DELETE (audit) and UPDATE (revisions) whoever the role.

Revision ID: 0008
Revises: 0006_client_names_ci
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "0008"
down_revision = "0006_client_names_ci"
branch_labels = None
depends_on = None


TENANT_TABLES = (
    "posts",
    "revisions",
    "post_targets",
    "approvals",
    "comments",
    "inbox_items",
    "review_links",
)

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION regia_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % is refused: rows of this table never change', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_index("uq_channels_agency_id_id", "channels", ["agency_id", "id"], unique=True)
    op.create_index(
        "uq_client_companies_agency_id_id",
        "client_companies",
        ["agency_id", "id"],
        unique=True,
        if_not_exists=True,
    )
    op.create_table(
        "posts",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("approved_revision", sa.Integer(), nullable=True),
        sa.Column("approval_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_revision", sa.Integer(), nullable=True),
        sa.Column("shown_revisions", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_posts_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_posts_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_posts_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("agency_id", "id", name="uq_posts_agency_id_id"),
    )
    op.create_index(op.f("ix_posts_agency_id"), "posts", ["agency_id"], unique=False)
    op.create_index(
        "ix_posts_agency_id_client_id_status",
        "posts",
        ["agency_id", "client_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_posts_agency_id_created_at", "posts", ["agency_id", "created_at"], unique=False
    )
    op.create_table(
        "comments",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_comments_post_id_posts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_comments_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(op.f("ix_comments_agency_id"), "comments", ["agency_id"], unique=False)
    op.create_index(
        "ix_comments_agency_id_post_id", "comments", ["agency_id", "post_id"], unique=False
    )
    op.create_table(
        "inbox_items",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("author", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_post_id", sa.Uuid(), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "channel_id"],
            ["channels.agency_id", "channels.id"],
            name="fk_inbox_items_channel_id_channels",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_inbox_items_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "reply_post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_inbox_items_reply_post_id_posts",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_inbox_items_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_items")),
        sa.UniqueConstraint(
            "agency_id", "channel_id", "external_id", name="uq_inbox_items_external"
        ),
    )
    op.create_index(op.f("ix_inbox_items_agency_id"), "inbox_items", ["agency_id"], unique=False)
    op.create_index(
        "ix_inbox_items_agency_id_client_id",
        "inbox_items",
        ["agency_id", "client_id"],
        unique=False,
    )
    op.create_table(
        "post_targets",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("external_id", sa.String(length=300), nullable=True),
        sa.Column("external_url", sa.String(length=2000), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "channel_id"],
            ["channels.agency_id", "channels.id"],
            name="fk_post_targets_channel_id_channels",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_post_targets_post_id_posts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_post_targets_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_targets")),
        sa.UniqueConstraint("agency_id", "post_id", "channel_id", name="uq_post_targets_channel"),
    )
    op.create_index(op.f("ix_post_targets_agency_id"), "post_targets", ["agency_id"], unique=False)
    op.create_table(
        "revisions",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("channel_ids", sa.JSON(), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_revisions_post_id_posts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_revisions_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_revisions_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
        sa.UniqueConstraint("agency_id", "id", name="uq_revisions_agency_id_id"),
        sa.UniqueConstraint("agency_id", "post_id", "number", name="uq_revisions_post_number"),
    )
    op.create_index(op.f("ix_revisions_agency_id"), "revisions", ["agency_id"], unique=False)
    op.create_table(
        "approvals",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("revision_id", sa.Uuid(), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("step", sa.String(length=10), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_approvals_post_id_posts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id", "revision_id"],
            ["revisions.agency_id", "revisions.id"],
            name="fk_approvals_revision_id_revisions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_approvals_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_approvals_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_agency_id"), "approvals", ["agency_id"], unique=False)
    op.create_index(
        "ix_approvals_agency_id_post_id", "approvals", ["agency_id", "post_id"], unique=False
    )
    op.create_table(
        "review_links",
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_review_links_client_id_client_companies",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_review_links_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_review_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_links")),
        sa.UniqueConstraint("agency_id", "token_hash", name="uq_review_links_token_hash"),
    )
    op.create_index(op.f("ix_review_links_agency_id"), "review_links", ["agency_id"], unique=False)
    for table in TENANT_TABLES:
        enable_rls(op, table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION regia_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER revisions_immutable BEFORE UPDATE ON revisions "
            "FOR EACH ROW EXECUTE FUNCTION regia_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS revisions_immutable ON revisions")
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS regia_refuse_change()")
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_index(op.f("ix_review_links_agency_id"), table_name="review_links")
    op.drop_table("review_links")
    op.drop_index("ix_approvals_agency_id_post_id", table_name="approvals")
    op.drop_index(op.f("ix_approvals_agency_id"), table_name="approvals")
    op.drop_table("approvals")
    op.drop_index(op.f("ix_revisions_agency_id"), table_name="revisions")
    op.drop_table("revisions")
    op.drop_index(op.f("ix_post_targets_agency_id"), table_name="post_targets")
    op.drop_table("post_targets")
    op.drop_index("ix_inbox_items_agency_id_client_id", table_name="inbox_items")
    op.drop_index(op.f("ix_inbox_items_agency_id"), table_name="inbox_items")
    op.drop_table("inbox_items")
    op.drop_index("ix_comments_agency_id_post_id", table_name="comments")
    op.drop_index(op.f("ix_comments_agency_id"), table_name="comments")
    op.drop_table("comments")
    op.drop_index("ix_posts_agency_id_created_at", table_name="posts")
    op.drop_index("ix_posts_agency_id_client_id_status", table_name="posts")
    op.drop_index(op.f("ix_posts_agency_id"), table_name="posts")
    op.drop_table("posts")
    op.drop_index("uq_channels_agency_id_id", table_name="channels")
    # uq_client_companies_agency_id_id stays: migration 0003 (dbroles) owns it once merged.
