"""A channel whose credentials the network refused: marked once, told once (DESIGN.md §7:
"expired auth marks the channel needs_reconnect and notifies the agency")."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select, update

from agency import audit
from agency.channels.models import Channel, ChannelStatus
from agency.db import db, utcnow
from agency.notifications import service as inapp
from agency.notifications.models import Event
from tenants.models import Membership, Role, User

NOTIFIED_ROLES = (Role.OWNER.value, Role.MANAGER.value)


def breakage_recipients(agency_id: uuid.UUID) -> Select:
    """The members told a channel broke (e-mail and in-app): active owners and managers
    (both the membership and the account active, as the publishing failure notices)."""
    return (
        select(User.email, User.name, User.locale)
        .join(Membership, Membership.user_id == User.id)
        .where(
            User.active.is_(True),
            Membership.agency_id == agency_id,
            Membership.client_id.is_(None),
            Membership.active.is_(True),
            Membership.role.in_(NOTIFIED_ROLES),
        )
        .order_by(User.email)
    )


def flag_needs_reconnect(channel_id: uuid.UUID, reason: str) -> Channel | None:
    """The network refused the channel's credentials: mark it ``needs_reconnect`` (settings
    kept) and, in this transaction, audit it and tell its agency's owners and managers in the
    app; the caller commits, then e-mails them. The channel if this call made the change,
    None if it already needed reconnecting (or is gone): nothing is written then.

    Publishing jobs, inbound syncs and the health check may find the same breakage at the same
    moment in separate processes. The status moves in one conditional UPDATE so exactly one of
    them wins: on PostgreSQL a second UPDATE waits for the first's row lock and re-reads the
    row once it commits (no longer matching); SQLite runs one writer at a time. A read-then-write
    would let both see the old status and tell everyone twice.
    """
    changed = db.session.execute(
        update(Channel)
        .where(Channel.id == channel_id, Channel.status != ChannelStatus.NEEDS_RECONNECT.value)
        .values(
            status=ChannelStatus.NEEDS_RECONNECT.value,
            verified_at=None,
            checked_at=utcnow(),
            check_error=reason,  # what the channel pages show as the reason
        )
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        return None
    channel = db.session.scalar(
        select(Channel).where(Channel.id == channel_id).execution_options(populate_existing=True)
    )
    audit.record(
        "channel.needs_reconnect", actor_id=None, subject_type="channel", subject_id=channel.id,
        client_id=channel.client_id, via="job", error=reason,
    )  # fmt: skip
    told = db.session.scalars(breakage_recipients(channel.agency_id).with_only_columns(User.id))
    inapp.add_about_channel(told.all(), Event.CHANNEL_NEEDS_RECONNECT, channel)
    return channel
