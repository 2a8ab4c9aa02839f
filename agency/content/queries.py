"""Reading posts as a user sees them: lists (a constant number of queries) and one post."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, and_, or_, select, tuple_

from agency.channels.models import Channel
from agency.content import access as seen
from agency.content import limits
from agency.content.models import Post, PostKind, PostStatus, PostTarget, Revision, aware
from agency.content.previews import preview
from agency.content.service import get_post
from agency.db import db
from agency.errors import ValidationFailed
from tenants.models import ClientCompany
from tenants.permissions import Access

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def encode_cursor(when: datetime, row_id: uuid.UUID) -> str:
    """An opaque cursor for lists ordered by (a time, id) descending."""
    raw = json.dumps([when.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, pid = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(when)
        if moment.tzinfo is None:
            raise ValueError(when)
        return moment, uuid.UUID(pid)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationFailed(
            {"cursor": [_("This cursor is not valid.")]}, location="query"
        ) from exc


def list_posts(
    access: Access,
    *,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict], str | None]:
    """One page of visible posts, newest first, as dicts; three queries whatever the size."""
    rows, next_cursor = post_page(
        visible_posts(access), access, client_id, status, kind, cursor, limit
    )
    return present_rows(access, rows), next_cursor


def post_page(
    stmt: Select,
    access: Access,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list, str | None]:
    """One page of ``stmt`` (``visible_posts``, of entities or of columns with ``Post.id`` and
    ``Post.created_at``) filtered and newest first, and the next page's cursor (or None)."""
    seen.require_see_content(access)
    if status and status not in set(PostStatus):
        raise ValidationFailed({"status": [_("Unknown status.")]}, location="query")
    if kind and kind not in set(PostKind):
        raise ValidationFailed({"kind": [_("Unknown kind.")]}, location="query")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    stmt = stmt.order_by(Post.created_at.desc(), Post.id.desc())
    if client_id is not None:
        stmt = stmt.where(Post.client_id == client_id)
    if status:
        stmt = stmt.where(Post.status == status)
    if kind:
        stmt = stmt.where(Post.kind == kind)
    if cursor:
        when, pid = decode_cursor(cursor)
        stmt = stmt.where(tuple_(Post.created_at, Post.id) < (when, pid))
    rows = db.session.execute(stmt.limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    last = last[0] if isinstance(last[0], Post) else last  # entities, or columns
    return rows[:limit], encode_cursor(aware(last.created_at), last.id)


def visible_posts(access: Access, *columns: object) -> Select:
    """``SELECT post, revision`` (or ``columns`` of them) of the posts this user sees, at the
    revision they see."""
    number = seen.shown_revision_number(access)
    return (
        select(*(columns or (Post, Revision)))
        .select_from(Post)
        .join(
            Revision,
            and_(
                Revision.agency_id == Post.agency_id,
                Revision.post_id == Post.id,
                Revision.number == number,
            ),
        )
        .where(seen.visible_filter(access))
    )


def visible_summaries(access: Access) -> Select:
    """``visible_posts`` reduced to the columns the queue, calendar and dashboard show: one
    plain row a post, no entities, targets, character counts or previews to build; with the
    client's time zone, joined in the same statement, to show its times in."""
    return (
        visible_posts(access)
        .with_only_columns(
            Post.id, Post.client_id, Post.kind, Post.status, Post.approval_deadline,
            Revision.number, Revision.body, Revision.scheduled_at, ClientCompany.timezone,
        )
        .join(
            ClientCompany,
            and_(ClientCompany.agency_id == Post.agency_id, ClientCompany.id == Post.client_id),
        )
    )  # fmt: skip


def summary(row) -> dict:  # noqa: ANN001 - a row of ``visible_summaries``
    """A post as the list pages show it: the keys of ``present`` they read, same values."""
    return {
        "id": row.id,
        "client_id": row.client_id,
        "kind": row.kind,
        "status": row.status,
        "body": row.body,
        "scheduled_at": aware(row.scheduled_at),
        "revision": row.number,
        "approval_deadline": aware(row.approval_deadline),
        "timezone": row.timezone,  # the client's: its times are shown there
    }


def present_rows(access: Access, rows: list) -> list[dict]:  # noqa: ANN001
    """(post, revision) rows as dicts, with their targets in one more query."""
    targets = _targets_of([post.id for post, _rev in rows])
    return [present(access, post, rev, targets.get(post.id, [])) for post, rev in rows]


def _targets_of(post_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[tuple[PostTarget, Channel]]]:
    if not post_ids:
        return {}
    out: dict[uuid.UUID, list[tuple[PostTarget, Channel]]] = {}
    stmt = (
        select(PostTarget, Channel)
        .join(
            Channel,
            and_(Channel.agency_id == PostTarget.agency_id, Channel.id == PostTarget.channel_id),
        )
        .where(PostTarget.post_id.in_(post_ids))
        .order_by(Channel.name, Channel.id)
    )
    for target, channel in db.session.execute(stmt):
        out.setdefault(target.post_id, []).append((target, channel))
    return out


def present(
    access: Access, post: Post, rev: Revision, targets: list[tuple[PostTarget, Channel]]
) -> dict:
    """The post as this user sees it (the API's post object, DESIGN.md §10)."""
    agency_side = seen.agency_view(access, post.client_id)
    shown_targets = []
    for target, channel in targets:
        text = rev.variants.get(str(channel.id)) or rev.body
        counted = limits.count(channel.network, text, channel.settings)
        shown_targets.append(
            {
                "channel_id": channel.id,
                "channel_name": channel.name,
                "network": channel.network,
                "channel_status": channel.status,
                "status": target.status,
                "external_id": target.external_id,
                "external_url": target.external_url,
                "last_error": target.last_error if agency_side else None,
                # capped: a real network limit, shown as "N / limit" (not the generic one)
                "characters": {
                    "used": counted.used,
                    "limit": counted.limit,
                    "capped": counted.capped,
                },
                "preview": preview(channel.network, text),
            }
        )
    return {
        "id": post.id,
        "client_id": post.client_id,
        "kind": post.kind,
        "status": post.status,
        "body": rev.body,
        "variants": dict(rev.variants),
        "media": list(rev.media),
        "scheduled_at": aware(rev.scheduled_at),
        "revision": rev.number,
        "content_hash": rev.content_hash,
        "approved_revision": post.approved_revision,
        "approval_deadline": aware(post.approval_deadline),
        "created_at": aware(post.created_at),
        "updated_at": aware(post.updated_at),
        "targets": shown_targets,
    }


def post_view(access: Access, post_id: uuid.UUID) -> dict:
    """One post as this user sees it."""
    post = get_post(access, post_id)
    return present_post(access, post)


def present_post(access: Access, post: Post) -> dict:
    number = seen.shown_number(access, post)
    rev = db.session.scalars(
        select(Revision).where(Revision.post_id == post.id, Revision.number == number)
    ).one()
    return present(access, post, rev, _targets_of([post.id]).get(post.id, []))


def waiting_on(access: Access, limit: int = MAX_PAGE_SIZE, *, brief: bool = False) -> list[dict]:
    """Posts awaiting this user: internal review for reviewers, the client step for client
    managers, changes requested on the author's own posts; soonest scheduled first. A constant
    number of queries. ``brief``: ``summary`` dicts (no targets), for pages that show no more."""
    from agency.content.policy import awaiting_client_policy
    from tenants.models import Role
    from tenants.permissions import Permission

    seen.require_see_content(access)
    agency_ids, client_ids = seen.scope(access)
    managed = {c for c in client_ids if access.client_roles.get(c) == Role.CLIENT_MANAGER}
    parts = []
    if access.can(Permission.INTERNAL_REVIEW):
        internal = Post.status == PostStatus.IN_REVIEW.value
        parts.append(internal if agency_ids is None else internal & Post.client_id.in_(agency_ids))
    if managed:
        parts.append(
            (Post.status == PostStatus.AWAITING_CLIENT.value) & Post.client_id.in_(managed)
        )
    if access.can(Permission.DRAFT_CONTENT):  # the author's own posts sent back to them
        parts.append(
            (Post.status == PostStatus.CHANGES_REQUESTED.value)
            & (Post.created_by_id == access.user.id)
        )
    if not parts:
        return []
    stmt = (
        (visible_summaries(access) if brief else visible_posts(access))
        .where(or_(*parts))
        .order_by(Post.scheduled_at.asc().nulls_last(), Post.created_at, Post.id)
        .limit(limit)
    )
    rows = db.session.execute(stmt).all()
    if managed:  # only posts the policy names this client manager an approver of
        mine: set[tuple[uuid.UUID, str]] = set()
        for c in db.session.scalars(select(ClientCompany).where(ClientCompany.id.in_(managed))):
            for kind in PostKind:
                if access.user.id in awaiting_client_policy(c, kind.value).approver_ids:
                    mine.add((c.id, kind.value))
        rows = [
            row
            for row in rows
            if (post := row if brief else row[0]).status != PostStatus.AWAITING_CLIENT.value
            or (post.client_id, post.kind) in mine
        ]
    return [summary(row) for row in rows] if brief else present_rows(access, rows)
