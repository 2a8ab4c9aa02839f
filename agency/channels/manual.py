"""Manual channels: someone publishes the approved post by hand and records where it is.

Marking a manual target published stores its link, records the billable usage once (billing
is idempotent per target) and, when no target of the post is left to go out, the post ends
published (or partially published, when an automatic channel failed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask_babel import gettext as _
from sqlalchemy import select

from agency import audit
from agency.channels.models import Channel, Network
from agency.content import access as seen
from agency.content.models import Post, PostStatus, PostTarget, TargetStatus
from agency.content.service import get_post
from agency.db import db, utcnow
from agency.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from agency.http_links import is_web_link
from billing import usage
from tenants.permissions import Access, Permission

MAX_URL = 2000
# The approved revision exists and publishing is due or under way (or done: a link corrected).
RECORDABLE = frozenset(
    {
        PostStatus.APPROVED,
        PostStatus.SCHEDULED,
        PostStatus.PUBLISHING,
        PostStatus.PARTIALLY_PUBLISHED,
        PostStatus.FAILED,
        PostStatus.PUBLISHED,
    }
)


def may_record(access: Access, client_id: uuid.UUID) -> bool:
    """Staff assigned to the client, managers and owners (the agency side that drafts)."""
    return seen.agency_view(access, client_id) and access.can(Permission.DRAFT_CONTENT, client_id)


def clean_url(value: object) -> str:
    url = str(value or "").strip()
    if not url:
        raise ValidationFailed({"url": [_("Enter the link of the published post.")]})
    if len(url) > MAX_URL:
        raise ValidationFailed({"url": [_("Use at most %(n)d characters.", n=MAX_URL)]})
    if not is_web_link(url):
        raise ValidationFailed({"url": [_("Enter a link starting with https:// or http://.")]})
    return url


def mark_published(
    access: Access, post_id: uuid.UUID, channel_id: object, url: object, *, via: str = "web"
) -> PostTarget:
    """Record that the post went out by hand on a manual channel, at ``url``; commits.

    The web form's ``channel_id`` is a field: a channel that is not one of the post's manual
    ones is a field error (422)."""
    return _record(access, post_id, url, via, lambda post: _manual_target(post, channel_id))[1]


def mark_target_published(
    access: Access, post_id: uuid.UUID, channel_id: uuid.UUID, url: object, *, via: str = "api"
) -> Post:
    """``mark_published`` for the API, whose path names the target: a channel the post does
    not target is 404, and one that publishes by itself 409 (nothing to record by hand)."""
    return _record(access, post_id, url, via, lambda post: _target_on(post, channel_id))[0]


def _record(
    access: Access,
    post_id: uuid.UUID,
    url: object,
    via: str,
    find_target: Callable[[Post], PostTarget],
) -> tuple[Post, PostTarget]:
    try:
        post = get_post(access, post_id, lock=True)
        if not may_record(access, post.client_id):
            raise PermissionDenied(_("Your role does not allow this."))
        target = find_target(post)
        link = clean_url(url)
        if PostStatus(post.status) not in RECORDABLE or post.approved_revision is None:
            raise IllegalTransition(_("Only an approved post can be marked published."))
        now = utcnow()
        first = target.status != TargetStatus.PUBLISHED.value
        target.status = TargetStatus.PUBLISHED.value
        target.external_url = target.external_id = link
        target.last_error = None
        if first:
            target.published_at = now
            target.attempts += 1
            usage.record(
                db.session,
                client_id=post.client_id,
                target_id=target.id,
                kind=post.kind,
                occurred_at=now,
                post_id=post.id,
            )
        audit.record_by(
            access,
            "post.published_by_hand" if first else "post.link_corrected",
            subject_type="post",
            subject_id=post.id,
            client_id=post.client_id,
            via=via,
            channel_id=str(target.channel_id),
            url=link,
            revision=post.approved_revision,
        )
        _settle(access, post, via)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return post, target


def _manual_target(post: Post, channel_id: object) -> PostTarget:
    try:
        wanted = uuid.UUID(str(channel_id))
    except ValueError:
        wanted = None
    target = db.session.scalar(
        select(PostTarget)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(
            PostTarget.post_id == post.id,
            PostTarget.channel_id == wanted,
            Channel.network == Network.MANUAL.value,
        )
    )
    if target is None:
        raise ValidationFailed({"channel_id": [_("This post has no such manual channel.")]})
    return target


def _target_on(post: Post, channel_id: uuid.UUID) -> PostTarget:
    row = db.session.execute(
        select(PostTarget, Channel.network)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(PostTarget.post_id == post.id, PostTarget.channel_id == channel_id)
    ).first()
    if row is None:
        raise NotFound(_("No such target."))
    target, network = row
    if network != Network.MANUAL.value:
        raise IllegalTransition(
            _("This channel publishes by itself: only a manual channel is marked published.")
        )
    return target


def _settle(access: Access, post: Post, via: str) -> None:
    """Once no target is left to go out, the post ends as the engine would end it: published,
    or partially published when an automatic channel failed (its failure e-mail went out when
    the automatic channels had all ended). While a target is still open nothing changes."""
    from agency.publishing.post_status import settled_status

    statuses = set(
        db.session.scalars(select(PostTarget.status).where(PostTarget.post_id == post.id))
    )
    new = settled_status(statuses)
    if new == PostStatus.PUBLISHING or post.status == new.value:
        return
    old = post.status
    post.status = new.value
    post.updated_at = utcnow()
    audit.record_by(
        access,
        "post.status_changed",
        subject_type="post",
        subject_id=post.id,
        client_id=post.client_id,
        via=via,
        shared=post.client_revision is not None,
        old=old,
        new=post.status,
        revision=post.revision,
    )


def manual_targets(access: Access, post: dict) -> list[dict]:
    """The post's manual targets this user may record a link for (the post page's form)."""
    if PostStatus(post["status"]) not in RECORDABLE or post.get("approved_revision") is None:
        return []
    if not may_record(access, post["client_id"]):
        return []
    return [t for t in post["targets"] if t["network"] == Network.MANUAL.value]


def is_due(post: dict) -> bool:
    """The approved text's time has come and the post is still going out."""
    when = post.get("scheduled_at")
    return (
        post["status"] in (PostStatus.SCHEDULED.value, PostStatus.PUBLISHING.value)
        and post.get("approved_revision") == post.get("revision")
        and when is not None
        and when <= utcnow()
    )
