"""What the engine keeps beside a target: its idempotency key, checkpoints and claim, and
each channel's inbound cursor (DESIGN.md §7).

``post_targets`` belongs to the workflow; the engine's own bookkeeping lives here, one row
per target, so a crash between "sent" and "recorded" is always recoverable from the database.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey, utcnow
from tenants.scoping import TenantScoped


class PublishState(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """The engine's state of one target at one approved revision."""

    __tablename__ = "publish_states"
    __table_args__ = (
        UniqueConstraint("agency_id", "target_id", name="uq_publish_states_target"),
        ForeignKeyConstraint(
            ["agency_id", "post_id"],
            ["posts.agency_id", "posts.id"],
            name="fk_publish_states_post_id_posts",
            ondelete="CASCADE",
        ),
    )

    # post_targets has no (agency_id, id) key to point at; the post's foreign key cascades.
    target_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID]
    revision: Mapped[int]
    # Stored and committed before the first network call of this revision; stable on retries.
    idempotency_key: Mapped[str] = mapped_column(String(100))
    # What the connector checkpointed (pre-allocated record key, media ids, first send time).
    checkpoints: Mapped[dict] = mapped_column(JSON, default=dict)
    # True from the claim until the outcome is recorded: still True on the next claim means
    # the last attempt died mid-call (kill -9), an unknown outcome to reconcile first.
    in_flight: Mapped[bool] = mapped_column(default=False)
    claimed_until: Mapped[datetime | None]  # a live attempt's lease
    next_attempt_at: Mapped[datetime | None]  # backoff: not due before this
    job_id: Mapped[str | None] = mapped_column(String(200))  # the RQ job meant to run next
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelSync(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """Inbound sync of one channel: where the last fetch stopped, and how it went."""

    __tablename__ = "channel_syncs"
    __table_args__ = (
        UniqueConstraint("agency_id", "channel_id", name="uq_channel_syncs_channel"),
        ForeignKeyConstraint(
            ["agency_id", "channel_id"],
            ["channels.agency_id", "channels.id"],
            name="fk_channel_syncs_channel_id_channels",
            ondelete="CASCADE",
        ),
    )

    channel_id: Mapped[uuid.UUID]
    cursor: Mapped[str | None] = mapped_column(String(500))
    last_synced_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
