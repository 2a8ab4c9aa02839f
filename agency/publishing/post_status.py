"""A post's status while it is published: what its targets' statuses add up to
(``settled_status``), and the moves the engine makes on the workflow's graph (audited as the
job, no user).

``move_post`` moves an ORM post; ``settle_row`` and ``move_row`` do the same for the rows the
engine's claim and outcome statements read (the hot path: prebuilt statements, no ORM).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Row

from agency import audit
from agency.content.models import Post, PostStatus, TargetStatus
from agency.db import db, utcnow
from agency.publishing.queries import queries

S = PostStatus
T = TargetStatus


def settle_row(row: Row, events: list[dict]) -> str:
    """The post's status from its targets (publishing until each is published or failed):
    their statuses read after this transaction's own update and after the post's lock (so a
    sibling's outcome committed meanwhile counts), the post row written only if it changes."""
    statuses = set(db.session.scalars(queries().target_statuses, {"post_id": row.post_id}))
    return move_row(row, row.post_status, _aggregate(statuses), utcnow(), events)


def move_row(row: Row, old: str, new: PostStatus, now: datetime, events: list[dict]) -> str:
    """``move_post`` on a read row: its events into ``events``, one UPDATE of the post."""
    steps = _steps(PostStatus(old), new, row.post_id)
    for before, after in steps:
        events.append(_status_event(row, before, after))
    if steps:
        db.session.execute(
            queries().post_status, {"post_id": row.post_id, "v_status": new.value, "v_now": now}
        )
    return new.value


def row_event(row: Row, action: str, **data: object) -> dict:
    """The audit row of the job's ``action`` on the post of a read row."""
    return audit.values(
        action, actor_id=None, subject_type="post", subject_id=row.post_id,
        client_id=row.client_id, via="job", revision=row.post_revision, **data,
    )  # fmt: skip


def _status_event(row: Row, old: PostStatus, new: PostStatus) -> dict:
    shared = _shared(new, row.client_revision)
    return row_event(row, "post.status_changed", shared=shared, old=old.value, new=new.value)


def _shared(new: PostStatus, client_revision: int | None) -> bool:
    """Whether the client sees this status change (a client-facing status of a post that
    was ever sent to them)."""
    from agency.content.states import CLIENT_FACING

    return new in CLIENT_FACING and client_revision is not None


def settled_status(statuses: set[str]) -> PostStatus:
    """The post's status from its targets' statuses: publishing while any is still to go out
    (a manual one waiting to be published by hand included), else what they ended as."""
    return _aggregate(statuses)


def _aggregate(statuses: set[str]) -> PostStatus:
    if statuses & {T.PENDING.value, T.SCHEDULED.value, T.PUBLISHING.value} or not statuses:
        return S.PUBLISHING
    if statuses == {T.PUBLISHED.value}:
        return S.PUBLISHED
    if statuses == {T.FAILED.value}:
        return S.FAILED
    return S.PARTIALLY_PUBLISHED


def _steps(
    old: PostStatus, new: PostStatus, post_id: uuid.UUID
) -> list[tuple[PostStatus, PostStatus]]:
    """The moves from ``old`` to ``new`` on the workflow's graph (none if equal)."""
    from agency.content.states import EDGES

    if new == old:
        return []
    if new in EDGES[old]:
        return [(old, new)]
    # scheduled → published goes through publishing, as the graph says.
    if old == S.SCHEDULED and new in EDGES[S.PUBLISHING]:
        return [(old, S.PUBLISHING), (S.PUBLISHING, new)]
    raise ValueError(f"post {post_id}: {old.value} cannot become {new.value}")


def move_post(post: Post, new: PostStatus) -> None:
    """A status change the engine makes (no user: audited as the job), on the workflow's graph."""
    for old, step in _steps(PostStatus(post.status), new, post.id):
        post.status = step.value
        post.updated_at = utcnow()
        shared = _shared(step, post.client_revision)
        _audit(post, "post.status_changed", shared=shared, old=old.value, new=step.value)


def _audit(post: Post, action: str, **data: object) -> None:
    audit.record(
        action, actor_id=None, subject_type="post", subject_id=post.id,
        client_id=post.client_id, via="job", revision=post.revision, **data,
    )  # fmt: skip
