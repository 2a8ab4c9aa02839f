"""One in-app notification for one member about one post, or one channel (DESIGN.md §6, §7)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey
from tenants.scoping import TenantScoped


class Event(enum.StrEnum):
    SUBMITTED = "submitted"  # a post waits for your approval
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    MENTIONED = "mentioned"
    DEADLINE_NEAR = "deadline_near"
    HELD_LATE = "held_late"  # approved after its deadline: held, not scheduled
    APPROVED_LATE = "approved_late"  # approved after its deadline, scheduled all the same
    PUBLISHING_FAILED = "publishing_failed"  # on some channel or all: retry or fix it
    DUE_BY_HAND = "due_by_hand"  # its time came and a manual channel waits for someone
    # About a channel, not a post: its credentials stopped working (agency side only).
    CHANNEL_NEEDS_RECONNECT = "channel_needs_reconnect"


class Notification(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """Written in the same transaction as the change it reports: a rollback tells nobody."""

    __tablename__ = "notifications"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_notifications_post_id_posts",
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["agency_id", "channel_id"],
            ["channels.agency_id", "channels.id"],
            name="fk_notifications_channel_id_channels",
            ondelete="CASCADE",
        ),
        # About exactly one thing: a post or a channel.
        CheckConstraint(
            "(post_id IS NULL AND channel_id IS NOT NULL)"
            " OR (post_id IS NOT NULL AND channel_id IS NULL)",
            name="one_subject",
        ),
        # The list (unread first, newest first) and the navbar's unread count.
        Index("ix_notifications_agency_id_user_id_read_at", "agency_id", "user_id", "read_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(30))
    post_id: Mapped[uuid.UUID | None]
    channel_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str | None] = mapped_column(String(200))
    # A short excerpt of the comment that came with the event (shown to the recipient only).
    excerpt: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None]
