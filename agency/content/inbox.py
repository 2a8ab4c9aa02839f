"""The inbox (DESIGN.md §6): inbound comments, mentions and messages per channel.

Jobs will fill it from the networks; for forums and networks without an API the agency
enters items by hand. Replying creates a ``reply`` post, submitted at once so it follows the
client's reply policy; the time from receipt to reply is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import and_, select, tuple_
from sqlalchemy.exc import IntegrityError

from agency import audit
from agency.channels.models import Channel
from agency.content import notify, service
from agency.content.models import InboxItem, InboxStatus, Post, PostKind, aware
from agency.db import db, utcnow
from agency.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from agency.http_links import is_web_link
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

PAGE_LIMIT = 100
MAX_URL = 2000


def _agency_side(access: Access) -> tuple[set[uuid.UUID] | None]:
    if not access.can(Permission.DRAFT_CONTENT):
        raise PermissionDenied(_("Your role does not allow this."))
    from agency.content.access import scope

    agency_ids, _client_ids = scope(access)
    return (agency_ids,)


def _present(item: InboxItem, timezone: str | None = None) -> dict:
    response = None
    if item.replied_at is not None:
        response = int((aware(item.replied_at) - aware(item.received_at)).total_seconds())
    return {
        "id": item.id,
        "client_id": item.client_id,
        "channel_id": item.channel_id,
        "external_id": item.external_id,
        "author": item.author,
        "body": item.body,
        "url": item.url,
        "status": item.status,
        "received_at": aware(item.received_at),
        "reply_post_id": item.reply_post_id,
        "replied_at": aware(item.replied_at),
        "response_seconds": response,
        "timezone": timezone,  # the client's, when read with it: the times are shown there
    }


def list_items(
    access: Access,
    *,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_LIMIT,
) -> tuple[list[dict], str | None]:
    """One page, newest first, and the next cursor; agency members only (staff: assigned)."""
    from agency.content.queries import decode_cursor, encode_cursor

    (agency_ids,) = _agency_side(access)
    if status and status not in set(InboxStatus):
        raise ValidationFailed({"status": [_("Unknown status.")]})
    stmt = (
        select(InboxItem, ClientCompany.timezone)
        .join(
            ClientCompany,
            and_(
                ClientCompany.agency_id == InboxItem.agency_id,
                ClientCompany.id == InboxItem.client_id,
            ),
        )
        .order_by(InboxItem.received_at.desc(), InboxItem.id.desc())
    )
    if agency_ids is not None:
        stmt = stmt.where(InboxItem.client_id.in_(agency_ids))
    if client_id is not None:
        stmt = stmt.where(InboxItem.client_id == client_id)
    if status:
        stmt = stmt.where(InboxItem.status == status)
    if cursor:
        when, iid = decode_cursor(cursor)
        stmt = stmt.where(tuple_(InboxItem.received_at, InboxItem.id) < (when, iid))
    limit = max(1, min(limit, PAGE_LIMIT))
    rows = db.session.execute(stmt.limit(limit + 1)).all()
    last = rows[limit - 1].InboxItem if len(rows) > limit else None
    next_cursor = encode_cursor(aware(last.received_at), last.id) if last else None
    return [_present(item, timezone) for item, timezone in rows[:limit]], next_cursor


def _channel(access: Access, channel_id: uuid.UUID) -> Channel:
    channel = db.session.scalar(select(Channel).where(Channel.id == channel_id))
    if channel is None or not access.can_see_client(channel.client_id):
        raise NotFound(_("No such channel."))
    if not access.can(Permission.DRAFT_CONTENT, channel.client_id):
        raise PermissionDenied(_("Your role does not allow this."))
    return channel


@service.atomic
def create_item(access: Access, data: Mapping[str, object], *, via: str = "api") -> dict:
    """An item entered by hand; commits. A repeated ``external_id`` on a channel is a 422."""
    _agency_side(access)
    try:
        channel_id = uuid.UUID(str(data.get("channel_id")))
    except ValueError as exc:
        raise NotFound(_("No such channel.")) from exc
    channel = _channel(access, channel_id)
    received = data.get("received_at") or utcnow()
    if not isinstance(received, datetime) or received.tzinfo is None:
        raise ValidationFailed({"received_at": [_("Give a time with its time zone.")]})
    if received > utcnow():
        raise ValidationFailed({"received_at": [_("This time is in the future.")]})
    errors = {
        field: [_("Required.")]
        for field in ("author", "body")
        if not str(data.get(field) or "").strip()
    }
    url = str(data.get("url") or "").strip() or None
    if url is not None and (len(url) > MAX_URL or not is_web_link(url)):
        errors["url"] = [_("Enter a link starting with https:// or http://.")]
    if errors:
        raise ValidationFailed(errors)
    item = InboxItem(
        id=uuid.uuid4(), client_id=channel.client_id, channel_id=channel.id,
        external_id=str(data.get("external_id") or f"manual:{uuid.uuid4()}"),
        author=str(data["author"]).strip(), body=str(data["body"]).strip(),
        url=url, received_at=received,
    )  # fmt: skip
    db.session.add(item)
    audit.record_by(
        access, "inbox.item_added", subject_type="inbox_item", subject_id=item.id,
        client_id=item.client_id, via=via,
    )  # fmt: skip
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ValidationFailed({"external_id": [_("This item is already in the inbox.")]}) from exc
    return _present(item)


@service.atomic
def reply(
    access: Access, item_id: uuid.UUID, data: Mapping[str, object], *, via: str = "api"
) -> Post:
    """A ``reply`` post to the item on its channel, submitted under the reply policy."""
    (agency_ids,) = _agency_side(access)
    item = db.session.scalar(select(InboxItem).where(InboxItem.id == item_id).with_for_update())
    if item is None or (agency_ids is not None and item.client_id not in agency_ids):
        raise NotFound(_("No such inbox item."))
    if item.reply_post_id is not None:
        raise IllegalTransition(_("This item already has a reply."))
    if not str(data.get("body") or "").strip():
        raise ValidationFailed({"body": [_("Write the reply.")]})
    content = {
        "client_id": item.client_id,
        "body": data.get("body"),
        "channel_ids": [item.channel_id],
        **({"scheduled_at": data["scheduled_at"]} if data.get("scheduled_at") else {}),
    }
    # One transaction: a reply refused by the limits or the policy leaves nothing behind.
    try:
        post = service.create_post(
            access, content, kind=PostKind.REPLY.value, via=via, commit=False
        )
        db.session.flush()
        service.submit(access, post.id, via=via, commit=False)
        item.reply_post_id = post.id
        item.replied_at = utcnow()
        item.status = InboxStatus.REPLIED.value
        audit.record_by(
            access, "inbox.replied", subject_type="inbox_item", subject_id=item.id,
            client_id=item.client_id, via=via, post_id=post.id,
        )  # fmt: skip
    except Exception:
        db.session.rollback()
        raise
    notify.commit()
    return post
