"""Manual channels whose time has come: the sweeper tells the agency once per approved text.

A manual target gets no publish job (a person publishes it), so nothing else would notice its
time passing. Each minute the sweeper finds approved posts past their time with a manual
target still to go out and no ``post.due_by_hand`` event for that revision yet; it records
that event (the timeline shows it, and it is what keeps the notice to once), writes the in-app
notifications and, after the commit, e-mails the same people as the failure e-mails. A post
whose targets are all manual moves from scheduled to publishing then, as a post with automatic
channels does when its first job starts: it stays publishing until each is marked published.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import select, update

from agency import audit
from agency.channels.models import Channel, Network
from agency.content.models import Post, PostStatus, PostTarget, TargetStatus
from agency.db import db
from agency.notifications import service as inapp
from agency.notifications.models import Event
from agency.publishing import engine, notices, post_status

log = logging.getLogger(__name__)
ACTION = "post.due_by_hand"
WAITING = (TargetStatus.PENDING.value, *engine.OPEN_TARGET)


def announce_due(now: datetime) -> int:
    """In the agency in context: announce each newly due post; how many were announced."""
    due = db.session.execute(
        select(Post.id, Post.revision)
        .join(PostTarget, PostTarget.post_id == Post.id)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(
            Post.status.in_(engine.LIVE_POST),
            Post.approved_revision == Post.revision,
            Post.scheduled_at <= now,
            Channel.network == Network.MANUAL.value,
            PostTarget.status.in_(WAITING),
        )
        .distinct()
    ).all()
    if not due:
        return 0
    told = _already_told([post_id for post_id, _revision in due])
    db.session.rollback()
    announced = 0
    for post_id, revision in due:
        if (post_id, revision) in told:
            continue
        try:
            if _announce(post_id, revision):
                announced += 1
        except Exception:  # one post's trouble never keeps the others from being told
            db.session.rollback()
            log.exception("could not announce post %s as due by hand", post_id)
    return announced


def _already_told(post_ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, int | None]]:
    rows = db.session.execute(
        select(audit.AuditEvent.subject_id, audit.AuditEvent.data).where(
            audit.AuditEvent.subject_type == "post",
            audit.AuditEvent.action == ACTION,
            audit.AuditEvent.subject_id.in_(post_ids),
        )
    ).all()
    return {(subject_id, (data or {}).get("revision")) for subject_id, data in rows}


def _announce(post_id: uuid.UUID, revision: int) -> bool:
    if not db.is_postgresql:  # a write first: SQLite's write lock now, not on an upgrade
        db.session.execute(update(Post).where(Post.id == post_id).values(status=Post.status))
    stmt = select(Post).where(Post.id == post_id).execution_options(populate_existing=True)
    post = db.session.scalar(stmt.with_for_update() if db.is_postgresql else stmt)
    if (
        post is None
        or post.status not in engine.LIVE_POST
        or post.revision != revision
        or post.approved_revision != revision
        or (post_id, revision) in _already_told([post_id])
    ):
        db.session.rollback()
        return False
    rows = db.session.execute(
        select(Channel.name, Channel.network, PostTarget.status)
        .join(PostTarget, PostTarget.channel_id == Channel.id)
        .where(PostTarget.post_id == post_id)
        .order_by(Channel.name)
    ).all()
    by_hand = [n for n, net, s in rows if net == Network.MANUAL.value and s in WAITING]
    if not by_hand:
        db.session.rollback()
        return False
    if all(net == Network.MANUAL.value for _n, net, _s in rows):
        post_status.move_post(post, PostStatus.PUBLISHING)
    audit.record(
        ACTION, actor_id=None, subject_type="post", subject_id=post.id,
        client_id=post.client_id, via="job", revision=revision, channels=by_hand,
    )  # fmt: skip
    recipients = notices.recipients(post.agency_id, post.created_by_id)
    inapp.add([u.id for u in recipients], Event.DUE_BY_HAND, post)
    db.session.commit()
    notices.due_by_hand(post_id, by_hand)
    return True
