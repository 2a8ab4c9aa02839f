"""Posts, their immutable revisions, targets, decisions, comments and the inbox (DESIGN.md §6).

Every table is tenant-owned; every foreign key between tenant tables includes ``agency_id``
(``(agency_id, x_id)`` → ``x (agency_id, id)``), so no row can point into another agency.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agency.channels.models import Channel
from agency.db import Base, Timestamped, UUIDPrimaryKey, utcnow
from tenants.models import ClientCompany
from tenants.scoping import TenantScoped


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC (a no-op on PostgreSQL)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


class PostKind(enum.StrEnum):
    POST = "post"
    REPLY = "reply"


class PostStatus(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    AWAITING_CLIENT = "awaiting_client"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTIALLY_PUBLISHED = "partially_published"
    FAILED = "failed"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class TargetStatus(enum.StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"


class Step(enum.StrEnum):
    INTERNAL = "internal"
    CLIENT = "client"


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"
    REJECT = "reject"


class Visibility(enum.StrEnum):
    INTERNAL = "internal"
    SHARED = "shared"


class InboxStatus(enum.StrEnum):
    OPEN = "open"
    REPLIED = "replied"
    DISMISSED = "dismissed"


def _tenant_fk(columns: list[str], table: str, name: str, ondelete: str | None = "CASCADE"):  # noqa: ANN202
    """``(agency_id, <column>)`` → ``<table> (agency_id, id)``."""
    return ForeignKeyConstraint(
        ["agency_id", *columns], [f"{table}.agency_id", f"{table}.id"], name=name, ondelete=ondelete
    )


# Composite foreign keys need (agency_id, id) unique on the referenced tables. The dbroles
# migration (0003) adds it to client_companies; added here only if that has not landed.
if not any(ix.name == "uq_client_companies_agency_id_id" for ix in ClientCompany.__table__.indexes):
    Index(
        "uq_client_companies_agency_id_id",
        *ClientCompany.__table__.c["agency_id", "id"],
        unique=True,
    )
if not any(ix.name == "uq_channels_agency_id_id" for ix in Channel.__table__.indexes):
    Index("uq_channels_agency_id_id", *Channel.__table__.c["agency_id", "id"], unique=True)


class Post(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """A post or reply for one client; its content lives in revisions, numbered from 1."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("agency_id", "id", name="uq_posts_agency_id_id"),
        _tenant_fk(["client_id"], "client_companies", "fk_posts_client_id_client_companies"),
        Index("ix_posts_agency_id_client_id_status", "agency_id", "client_id", "status"),
        Index("ix_posts_agency_id_created_at", "agency_id", "created_at"),
    )

    client_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(10), default=PostKind.POST.value)
    status: Mapped[str] = mapped_column(String(30), default=PostStatus.DRAFT.value)
    scheduled_at: Mapped[datetime | None]
    # Number of the current revision, and of the revision the decisions approved.
    revision: Mapped[int] = mapped_column(default=1)
    approved_revision: Mapped[int | None]
    # Fixed when the post is submitted: scheduled_at - the policy's lead time.
    approval_deadline: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    submitted_at: Mapped[datetime | None]
    # What the client may see: the last revision sent to them (None: nothing yet), and every
    # revision ever sent (a client never sees the drafts in between).
    client_revision: Mapped[int | None]
    shown_revisions: Mapped[list] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Revision(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """Immutable content of a post at one point (a PostgreSQL trigger refuses UPDATE)."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("agency_id", "id", name="uq_revisions_agency_id_id"),
        UniqueConstraint("agency_id", "post_id", "number", name="uq_revisions_post_number"),
        _tenant_fk(["post_id"], "posts", "fk_revisions_post_id_posts"),
        # The calendar's range query (a week of 10,000 posts read 48 rows, not all of them).
        Index("ix_revisions_agency_id_scheduled_at", "agency_id", "scheduled_at"),
    )

    post_id: Mapped[uuid.UUID]
    number: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    variants: Mapped[dict] = mapped_column(JSON, default=dict)  # channel id (str) -> text
    media: Mapped[list] = mapped_column(JSON, default=list)  # media references
    channel_ids: Mapped[list] = mapped_column(JSON, default=list)  # targets at this revision
    scheduled_at: Mapped[datetime | None]
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    content_hash: Mapped[str] = mapped_column(String(64))


class PostTarget(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """One (post, channel) pair; publishing fills in its outcome."""

    __tablename__ = "post_targets"
    __table_args__ = (
        UniqueConstraint("agency_id", "post_id", "channel_id", name="uq_post_targets_channel"),
        _tenant_fk(["post_id"], "posts", "fk_post_targets_post_id_posts"),
        _tenant_fk(["channel_id"], "channels", "fk_post_targets_channel_id_channels"),
    )

    post_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20), default=TargetStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(300))
    external_url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime | None]


class Approval(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """One decision on one revision; ``voided_at`` once a new review round starts."""

    __tablename__ = "approvals"
    __table_args__ = (
        _tenant_fk(["post_id"], "posts", "fk_approvals_post_id_posts"),
        _tenant_fk(["revision_id"], "revisions", "fk_approvals_revision_id_revisions"),
        Index("ix_approvals_agency_id_post_id", "agency_id", "post_id"),
    )

    post_id: Mapped[uuid.UUID]
    revision_id: Mapped[uuid.UUID]
    revision_number: Mapped[int]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    step: Mapped[str] = mapped_column(String(10))
    decision: Mapped[str] = mapped_column(String(20))
    via: Mapped[str] = mapped_column(String(10), default="web")
    comment: Mapped[str | None] = mapped_column(Text)
    voided_at: Mapped[datetime | None]


class Comment(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "comments"
    __table_args__ = (
        _tenant_fk(["post_id"], "posts", "fk_comments_post_id_posts"),
        Index("ix_comments_agency_id_post_id", "agency_id", "post_id"),
    )

    post_id: Mapped[uuid.UUID]
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    visibility: Mapped[str] = mapped_column(String(10), default=Visibility.INTERNAL.value)
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list] = mapped_column(JSON, default=list)  # user ids (str)
    revision_number: Mapped[int]


class InboxItem(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """An inbound comment, mention or message on one channel."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        UniqueConstraint("agency_id", "channel_id", "external_id", name="uq_inbox_items_external"),
        _tenant_fk(["client_id"], "client_companies", "fk_inbox_items_client_id_client_companies"),
        _tenant_fk(["channel_id"], "channels", "fk_inbox_items_channel_id_channels"),
        # Posts are archived, never deleted: no ON DELETE (SET NULL would null agency_id).
        _tenant_fk(["reply_post_id"], "posts", "fk_inbox_items_reply_post_id_posts", None),
        Index("ix_inbox_items_agency_id_client_id", "agency_id", "client_id"),
    )

    client_id: Mapped[uuid.UUID]
    channel_id: Mapped[uuid.UUID]
    external_id: Mapped[str] = mapped_column(String(300))
    author: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default=InboxStatus.OPEN.value)
    received_at: Mapped[datetime]
    reply_post_id: Mapped[uuid.UUID | None]
    replied_at: Mapped[datetime | None]


class ReviewLink(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """A signed, expiring, revocable link that lets one client manager review without a password.

    The token is ``<agency id hex>.<secret>``: the agency part sets the tenant before the
    lookup (row-level security), only the secret's SHA-256 is stored.
    """

    __tablename__ = "review_links"
    __table_args__ = (
        UniqueConstraint("agency_id", "token_hash", name="uq_review_links_token_hash"),
        _tenant_fk(["client_id"], "client_companies", "fk_review_links_client_id_client_companies"),
    )

    client_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
