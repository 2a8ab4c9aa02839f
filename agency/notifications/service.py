"""In-app notifications: written beside the workflow's e-mails, read by their recipient only.

A member sees a notification only while they may still see its post (an unassigned member's
old notifications disappear with the post), and only their own. A notification about a channel
(it needs reconnecting) is the agency's to act on: seen only by members who may manage that
channel's client, never by client users.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true, tuple_, update

from agency.channels.models import Channel
from agency.content import access as seen
from agency.content.models import Approval, Post, PostStatus, Revision
from agency.db import db, utcnow
from agency.errors import NotFound, ValidationFailed
from agency.notifications.models import Event, Notification
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

PAGE_SIZE = 25
EXCERPT = 280
# Events that ask the recipient to decide: true only while the post still waits for them.
ASKS_FOR_DECISION = frozenset({Event.SUBMITTED.value, Event.DEADLINE_NEAR.value})


def add(
    user_ids: Iterable[uuid.UUID | None],
    event: Event,
    post: Post,
    actor_name: str | None = None,
    comment: str | None = None,
) -> None:
    """One unread notification per recipient, in the caller's transaction (not committed)."""
    excerpt = (comment or "").strip()[:EXCERPT] or None
    for user_id in dict.fromkeys(u for u in user_ids if u is not None):
        db.session.add(
            Notification(
                user_id=user_id, event=event.value, post_id=post.id,
                actor_name=actor_name, excerpt=excerpt,
            )
        )  # fmt: skip


def add_about_channel(user_ids: Iterable[uuid.UUID | None], event: Event, channel: Channel) -> None:
    """One unread notification about a channel per recipient, in the caller's transaction."""
    for user_id in dict.fromkeys(u for u in user_ids if u is not None):
        db.session.add(Notification(user_id=user_id, event=event.value, channel_id=channel.id))


def _channel_visible(access: Access) -> ColumnElement[bool]:
    """SQL: channels whose notices this member sees: those of clients they may manage now
    (the notice links to the channel's edit page)."""
    if not access.can(Permission.MANAGE_CLIENTS):
        return false()
    agency_ids, _client_ids = seen.scope(access)
    if agency_ids is None:
        return true()
    return Channel.client_id.in_(agency_ids) if agency_ids else false()


def _mine(access: Access):  # noqa: ANN202
    """Notifications of this member on posts or channels they may see now (one statement)."""
    return (
        select(Notification)
        .outerjoin(
            Post, and_(Post.agency_id == Notification.agency_id, Post.id == Notification.post_id)
        )
        .outerjoin(
            Channel,
            and_(
                Channel.agency_id == Notification.agency_id, Channel.id == Notification.channel_id
            ),
        )
        .where(
            Notification.user_id == access.user.id,
            or_(
                and_(Post.id.is_not(None), seen.visible_filter(access)),
                and_(Channel.id.is_not(None), _channel_visible(access)),
            ),
        )
    )


def unread_count(access: Access) -> int:
    stmt = _mine(access).where(Notification.read_at.is_(None)).with_only_columns(func.count())
    return int(db.session.scalar(stmt) or 0)


_UNREAD = case((Notification.read_at.is_(None), 1), else_=0)


def list_notifications(
    access: Access, *, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[dict], str | None]:
    """A page of this member's notifications, unread first, newest first; two queries."""
    client_id = func.coalesce(Post.client_id, Channel.client_id)
    stmt = (
        _mine(access)
        .join(
            ClientCompany,
            and_(ClientCompany.agency_id == Notification.agency_id, ClientCompany.id == client_id),
        )
        .outerjoin(  # a channel's notice has no post, so no revision
            Revision,
            and_(
                Revision.agency_id == Post.agency_id,
                Revision.post_id == Post.id,
                Revision.number == seen.shown_revision_number(access),
            ),
        )
        .add_columns(
            _UNREAD.label("unread"),
            ClientCompany.name,
            Revision.body,
            ClientCompany.timezone,
            client_id,
            Post.status,
            _decided_by(access).label("decided"),
            Channel.name,
            Channel.network,
        )
        .order_by(_UNREAD.desc(), Notification.created_at.desc(), Notification.id.desc())
    )
    if cursor:
        unread, when, nid = _decode(cursor)
        stmt = stmt.where(
            tuple_(_UNREAD, Notification.created_at, Notification.id) < (unread, when, nid)
        )
    rows = db.session.execute(stmt.limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        last, unread = rows[limit - 1][:2]
        next_cursor = _encode(unread, last.created_at, last.id)
    return [_present(access, row) for row in rows[:limit]], next_cursor


def _decided_by(access: Access):  # noqa: ANN202 - a correlated EXISTS, in the page's statement
    """SQL: has this member decided on the post's current revision in this review round?"""
    return (
        select(Approval.id)
        .where(
            Approval.agency_id == Post.agency_id,
            Approval.post_id == Post.id,
            Approval.revision_number == Post.revision,
            Approval.user_id == access.user.id,
            Approval.voided_at.is_(None),
        )
        .exists()
    )


def _still_waiting(
    access: Access, event: str, client_id: uuid.UUID, status: str, decided: bool
) -> bool:
    """Does a notification still ask this member to decide? Only while its post waits at their
    step (agency: internal review; client: the client's approval) and they have not decided."""
    if event not in ASKS_FOR_DECISION or decided:
        return False
    agency_side = seen.agency_view(access, client_id)
    step = PostStatus.IN_REVIEW if agency_side else PostStatus.AWAITING_CLIENT
    return status == step.value


def _present(access: Access, row) -> dict:  # noqa: ANN001 - a row of list_notifications
    n, _unread, client_name, post_text, timezone, client_id, status, decided = row[:8]
    channel_name, network = row[8:]
    return {
        "id": n.id,
        "event": n.event,
        "post_id": n.post_id,
        "channel_id": n.channel_id,
        "channel_name": channel_name,
        "network": network,
        "client_id": client_id,
        "client_name": client_name,
        "post_text": post_text,  # at the revision this member sees
        "actor_name": n.actor_name,
        "excerpt": n.excerpt,
        "created_at": n.created_at,
        "timezone": timezone,  # the post's client's: the time is shown there
        "read": n.read_at is not None,
        # The post's state now: an event that asked for a decision the post no longer waits
        # for says so instead of asking again.
        "post_status": status,
        "client_view": not seen.agency_view(access, client_id),
        "waiting": _still_waiting(access, n.event, client_id, status, bool(decided)),
    }


def mark_read(access: Access, notification_id: uuid.UUID) -> None:
    """Mark one of this member's notifications read; another's answers 404."""
    found = db.session.scalar(_mine(access).where(Notification.id == notification_id))
    if found is None:
        raise NotFound(_("No such notification."))
    if found.read_at is None:
        found.read_at = utcnow()
    db.session.commit()


def mark_all_read(access: Access) -> int:
    """Mark read every unread notification this member's list shows; how many were.

    The same filter as the list and the unread count: a notice about a post or channel the
    member may no longer see (taken off its client, demoted) is not theirs to dismiss unseen,
    and stays unread should they see it again.
    """
    shown = _mine(access).where(Notification.read_at.is_(None)).with_only_columns(Notification.id)
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == access.user.id,
            Notification.read_at.is_(None),
            Notification.id.in_(shown),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount or 0)


def _encode(unread: int, when, row_id: uuid.UUID) -> str:  # noqa: ANN001
    raw = json.dumps([int(unread), when.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, object, uuid.UUID]:
    from datetime import datetime

    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        unread, when, nid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(when)
        if unread not in (0, 1):
            raise ValueError(unread)
        return unread, moment, uuid.UUID(nid)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationFailed(
            {"cursor": [_("This cursor is not valid.")]}, location="query"
        ) from exc
