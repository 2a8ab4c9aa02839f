"""A post's history and discussion: revisions with diffs, comments, the activity timeline.

Client users see only what was sent to them: the revisions shown to the client, shared
comments, and the activity marked shared (client decisions, client-facing status changes).
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import select

from agency import audit
from agency.audit import AuditEvent
from agency.channels.models import Channel
from agency.content import access as seen
from agency.content import notify
from agency.content.models import Comment, Post, PostTarget, Revision, Visibility, aware
from agency.content.service import atomic, get_post
from agency.db import db
from agency.errors import PermissionDenied, ValidationFailed
from tenants.models import Membership, Role, User
from tenants.permissions import Access, Permission

MAX_COMMENT = 10_000
MAX_MENTIONS = 20


def list_revisions(access: Access, post_id: uuid.UUID) -> list[dict]:
    """Revisions this user may see, newest first, each with a diff against the one before."""
    post = get_post(access, post_id)
    stmt = select(Revision).where(Revision.post_id == post.id).order_by(Revision.number)
    if not seen.agency_view(access, post.client_id):
        stmt = stmt.where(Revision.number.in_(post.shown_revisions or []))
    out: list[dict] = []
    previous: Revision | None = None
    for rev in db.session.scalars(stmt):
        before = previous.body.splitlines() if previous else []
        diff = difflib.unified_diff(
            before, rev.body.splitlines(),
            f"revision {previous.number}" if previous else "", f"revision {rev.number}",
            lineterm="",
        )  # fmt: skip
        out.append(
            {
                "number": rev.number,
                "body": rev.body,
                "variants": dict(rev.variants),
                "media": list(rev.media),
                "channel_ids": list(rev.channel_ids),
                "scheduled_at": aware(rev.scheduled_at),
                "author_id": rev.author_id,
                "content_hash": rev.content_hash,
                "created_at": aware(rev.created_at),
                "diff": "\n".join(diff),
            }
        )
        previous = rev
    out.reverse()
    return out


def _mentionable(post: Post, visibility: str, wanted: list[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``wanted``, the members who may read a comment of ``visibility`` on ``post``."""
    if not wanted:
        return set()
    rows = db.session.execute(
        select(Membership.user_id, Membership.role, Membership.client_id).where(
            Membership.agency_id == post.agency_id,
            Membership.user_id.in_(wanted),
            Membership.active.is_(True),
        )
    ).all()
    ok: set[uuid.UUID] = set()
    for user_id, role, client_id in rows:
        if role in (Role.OWNER.value, Role.MANAGER.value, Role.STAFF.value) and client_id is None:
            ok.add(user_id)  # staff assignment is not checked: a mention is an invitation to look
        elif client_id == post.client_id and visibility == Visibility.SHARED.value:
            ok.add(user_id)
    return ok


@atomic
def add_comment(
    access: Access, post_id: uuid.UUID, data: Mapping[str, object], *, via: str = "api"
) -> dict:
    """A comment on the post; client users comment only ``shared``. Commits."""
    post = get_post(access, post_id, lock=True)
    if not access.can(Permission.COMMENT, post.client_id):
        raise PermissionDenied(_("Your role does not allow this."))
    agency_side = seen.agency_view(access, post.client_id)
    default = Visibility.INTERNAL.value if agency_side else Visibility.SHARED.value
    visibility = data.get("visibility") or default
    body = str(data.get("body") or "").strip()
    errors: dict[str, list[str]] = {}
    if visibility not in set(Visibility):
        errors["visibility"] = [_("Choose internal or shared.")]
    elif not agency_side and visibility != Visibility.SHARED.value:
        errors["visibility"] = [_("Your comments are shared with the agency.")]
    if not body:
        errors["body"] = [_("Write a comment.")]
    elif len(body) > MAX_COMMENT:
        errors["body"] = [_("Write at most %(n)d characters.", n=MAX_COMMENT)]
    raw = data.get("mentions") or []
    try:
        mentions = list(dict.fromkeys(uuid.UUID(str(m)) for m in raw))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        mentions = []
        errors["mentions"] = [_("Give a list of user ids.")]
    if len(mentions) > MAX_MENTIONS or set(mentions) - _mentionable(
        post, str(visibility), mentions
    ):
        errors["mentions"] = [_("Mention members who may read this comment.")]
    if errors:
        raise ValidationFailed(errors)
    comment = Comment(
        id=uuid.uuid4(), post_id=post.id, author_id=access.user.id, visibility=visibility,
        body=body, mentions=[str(m) for m in mentions],
        revision_number=seen.shown_number(access, post),
    )  # fmt: skip
    db.session.add(comment)
    audit.record_by(
        access, "post.commented", subject_type="post", subject_id=post.id,
        client_id=post.client_id, via=via, shared=visibility == Visibility.SHARED.value,
        comment_id=comment.id, visibility=visibility, mentions=[str(m) for m in mentions],
    )  # fmt: skip
    notify.tell(mentions, "mentioned", post, access.user.name, body)
    notify.commit()
    return _present_comment(comment, access.user.name)


def _present_comment(comment: Comment, author_name: str | None) -> dict:
    return {
        "id": comment.id,
        "body": comment.body,
        "visibility": comment.visibility,
        "author_id": comment.author_id,
        "author_name": author_name,
        "mentions": list(comment.mentions),
        "revision": comment.revision_number,
        "created_at": aware(comment.created_at),
    }


def list_comments(access: Access, post_id: uuid.UUID) -> list[dict]:
    post = get_post(access, post_id)
    stmt = (
        select(Comment, User.name)
        .outerjoin(User, User.id == Comment.author_id)
        .where(Comment.post_id == post.id)
        .order_by(Comment.created_at, Comment.id)
    )
    if not seen.agency_view(access, post.client_id):
        stmt = stmt.where(Comment.visibility == Visibility.SHARED.value)
    return [_present_comment(c, name) for c, name in db.session.execute(stmt)]


def _same_state(shown: dict, action: str, data: dict) -> bool:
    """``action`` moves the post into the state the entry shown just before put it in."""
    return action == shown["action"] == "post.status_changed" and data.get("new") == shown[
        "data"
    ].get("new")


def activity(access: Access, post_id: uuid.UUID) -> list[dict]:
    """The post's audit trail, oldest first; client users see only what was shared with them."""
    post = get_post(access, post_id)
    agency_side = seen.agency_view(access, post.client_id)
    stmt = (
        select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.subject_type == "post", AuditEvent.subject_id == post.id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    )
    out = []
    for event, name in db.session.execute(stmt):
        data = dict(event.data or {})
        if not agency_side and not data.get("shared"):
            continue
        if out and _same_state(out[-1], event.action, data):
            # A client does not see the agency's revision round between the two (in review,
            # edited): to them the post simply waits again. Both stay in the audit log.
            out.pop()
        out.append(
            {
                "action": event.action,
                "actor_id": event.actor_id,
                "actor_name": name,
                "via": event.via,
                "created_at": aware(event.created_at),
                "data": {k: v for k, v in data.items() if k != "shared"},
            }
        )
    _name_channels(post.id, out)
    return out


def _name_channels(post_id: uuid.UUID, entries: list[dict]) -> None:
    """Publishing entries name their channel (they store the target's or channel's id)."""
    if not any("target" in e["data"] or "channel_id" in e["data"] for e in entries):
        return
    rows = db.session.execute(
        select(PostTarget.id, PostTarget.channel_id, Channel.name)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(PostTarget.post_id == post_id)
    ).all()
    names = {str(t): name for t, _c, name in rows} | {str(c): name for _t, c, name in rows}
    for entry in entries:
        key = entry["data"].get("target") or entry["data"].get("channel_id")
        if key is not None and str(key) in names:
            entry["channel_name"] = names[str(key)]
