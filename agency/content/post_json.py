"""The posts API's list (``GET /api/v1/posts``) read as plain rows and written as JSON.

The same posts, at the same revisions, in the same order and with the same cursor as
``queries.list_posts``, but only the columns the API's post object shows (no ORM objects,
no previews the API does not return) and built straight into what ``PostOut`` would dump
(``tests/test_api_json_out.py`` compares the two). Two queries whatever the page size.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import Select, and_, bindparam, select

from agency.channels.models import Channel
from agency.content import access as seen
from agency.content import limits
from agency.content.models import Post, PostTarget, Revision, aware
from agency.content.queries import PAGE_SIZE, post_page, visible_posts
from agency.db import db
from agency.web.json_out import iso
from tenants.permissions import Access

_POST_COLUMNS = (
    Post.id,
    Post.client_id,
    Post.kind,
    Post.status,
    Post.approved_revision,
    Post.approval_deadline,
    Post.created_at,
    Post.updated_at,
    Revision.body,
    Revision.variants,
    Revision.media,
    Revision.scheduled_at,
    Revision.number,
    Revision.content_hash,
)
_TARGET_COLUMNS = (
    PostTarget.post_id,
    PostTarget.channel_id,
    PostTarget.status,
    PostTarget.external_id,
    PostTarget.external_url,
    PostTarget.last_error,
    Channel.name,
    Channel.network,
    Channel.settings,
)


def list_posts_json(
    access: Access,
    *,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict], str | None]:
    """One page of visible posts as the API's JSON objects, and the next page's cursor."""
    stmt = visible_posts(access, *_POST_COLUMNS)
    rows, next_cursor = post_page(stmt, access, client_id, status, kind, cursor, limit)
    targets = _targets_of([row.id for row in rows])
    agency_ids, _client_ids = seen.scope(access)
    items = []
    for row in rows:
        agency_side = agency_ids is None or row.client_id in agency_ids
        items.append(_post(row, targets.get(row.id, ()), agency_side))
    return items, next_cursor


def _targets_of(post_ids: list[uuid.UUID]) -> dict[uuid.UUID, list]:
    """Target rows (with their channel's name, network and settings) by post, by channel name.

    A query of its own: folded into the page's statement as a JSON aggregate, PostgreSQL
    planned the per-post subquery at 5x the cost of this one."""
    if not post_ids:
        return {}
    out: dict[uuid.UUID, list] = {}
    for target in db.session.execute(_targets_statement(), {"post_ids": post_ids}):
        out.setdefault(target.post_id, []).append(target)
    return out


@functools.cache
def _targets_statement() -> Select:
    """Built once: 50 post ids go in as one expanding parameter, not 50 coerced literals."""
    return (
        select(*_TARGET_COLUMNS)
        .select_from(PostTarget)
        .join(
            Channel,
            and_(Channel.agency_id == PostTarget.agency_id, Channel.id == PostTarget.channel_id),
        )
        .where(PostTarget.post_id.in_(bindparam("post_ids", expanding=True)))
        .order_by(Channel.name, Channel.id)
    )


def _post(row, targets, agency_side: bool) -> dict:  # noqa: ANN001 - result rows
    """``queries.present`` of one row, as ``PostOut`` dumps it."""
    variants = row.variants or {}
    shown = []
    for target in targets:
        channel_id = str(target.channel_id)
        counted = limits.count(
            target.network, variants.get(channel_id) or row.body, target.settings
        )
        shown.append(
            {
                "channel_id": channel_id,
                "channel_name": target.name,
                "network": target.network,
                "status": target.status,
                "external_id": target.external_id,
                "external_url": target.external_url,
                "last_error": target.last_error if agency_side else None,
                "characters": {"used": counted.used, "limit": counted.limit},
            }
        )
    return {
        "id": str(row.id),
        "client_id": str(row.client_id),
        "kind": row.kind,
        "status": row.status,
        "body": row.body,
        "variants": {str(k): _text(v) for k, v in variants.items()},
        "media": [_text(m) for m in row.media or ()],
        "scheduled_at": iso(aware(row.scheduled_at)),
        "revision": row.number,
        "content_hash": row.content_hash,
        "approved_revision": row.approved_revision,
        "approval_deadline": iso(aware(row.approval_deadline)),
        "created_at": iso(aware(row.created_at)),
        "updated_at": iso(aware(row.updated_at)),
        "targets": shown,
    }


def _text(value: object) -> str | None:
    """As marshmallow's ``String`` dumps a value."""
    return None if value is None else str(value)
