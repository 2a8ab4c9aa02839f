"""One publish attempt's bookkeeping: claim a target, checkpoint, record the outcome.

Every step is its own short transaction that locks the target row first (``SELECT … FOR
UPDATE`` on PostgreSQL; on SQLite a write as the transaction's first statement takes the
database's write lock), so two workers on one target serialise. The claim is a conditional
``UPDATE`` of the target's lease that only one of them can win; the idempotency key is
committed before any network call and kept across retries of the same revision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value

from agency import audit
from agency.content.models import Post, PostStatus, PostTarget, TargetStatus, aware
from agency.db import db, utcnow
from agency.publishing.models import PublishState
from billing import usage
from tenants.context import current_agency_id

S = PostStatus
T = TargetStatus
OPEN_TARGET = (T.SCHEDULED.value, T.PUBLISHING.value)
LIVE_POST = (S.SCHEDULED.value, S.PUBLISHING.value)
# A job that starts a little before its time (clock skew between machines) still runs.
EARLY_TOLERANCE = timedelta(seconds=0.5)


@dataclass
class Claim:
    """What a won claim hands the job: enough to build the connector call, nothing ORM."""

    target_id: uuid.UUID
    post_id: uuid.UUID
    channel_id: uuid.UUID
    revision: int
    attempt: int
    idempotency_key: str
    checkpoints: dict[str, str] = field(default_factory=dict)
    reconcile_first: bool = False  # the last attempt died mid-call: look it up before sending


def _settings():  # noqa: ANN202
    return current_app.config["REGIA"]


def lock_target(target_id: uuid.UUID) -> PostTarget | None:
    """The target row, locked for this transaction (the first statement of it on SQLite)."""
    if not db.is_postgresql:
        # A write first: SQLite takes its write lock now, not on a later upgrade that can fail.
        db.session.execute(
            update(PostTarget)
            .where(PostTarget.id == target_id)
            .values(attempts=PostTarget.attempts)
        )
    stmt = select(PostTarget).where(PostTarget.id == target_id)
    if db.is_postgresql:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def _post(post_id: uuid.UUID, *, lock: bool) -> Post | None:
    stmt = select(Post).where(Post.id == post_id).execution_options(populate_existing=True)
    if lock and db.is_postgresql:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _state(target_id: uuid.UUID) -> PublishState | None:
    return db.session.scalar(
        select(PublishState)
        .where(PublishState.target_id == target_id)
        .execution_options(populate_existing=True)
    )


def ensure_state(target: PostTarget, revision: int) -> PublishState:
    """The target's state row, created once (concurrent creators: one insert wins)."""
    insert = pg_insert if db.is_postgresql else sqlite_insert
    now = utcnow()
    db.session.execute(
        insert(PublishState)
        .values(
            id=uuid.uuid4(),
            agency_id=current_agency_id(),
            created_at=now,
            updated_at=now,
            target_id=target.id,
            post_id=target.post_id,
            revision=revision,
            idempotency_key=uuid.uuid4().hex,
            checkpoints={},
            in_flight=False,
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["agency_id", "target_id"])
    )
    state = _state(target.id)
    assert state is not None
    if state.revision != revision:
        # A newly approved text is a new publication: new key, nothing carried over.
        state.revision, state.idempotency_key = revision, uuid.uuid4().hex
        state.checkpoints, state.in_flight = {}, False
        state.next_attempt_at = state.claimed_until = None
    return state


def _win_lease(state: PublishState, now: datetime) -> bool:
    """The conditional UPDATE claim: only one attempt at a time holds a live lease."""
    until = now + timedelta(seconds=_settings().publish_lease_seconds)
    won = db.session.execute(
        update(PublishState)
        .where(
            PublishState.id == state.id,
            or_(PublishState.claimed_until.is_(None), PublishState.claimed_until <= now),
        )
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        return False
    set_committed_value(state, "claimed_until", until)  # what the UPDATE wrote: no re-read
    return True


@dataclass
class NotDue:
    """What a claim too early hands back: when the target is due (the post's time, or the
    end of its backoff)."""

    at: datetime


def claim(target_id: uuid.UUID, revision: int, job_id: str | None = None) -> Claim | NotDue | None:
    """Claim ``target_id`` for one attempt at ``revision``; None when there is nothing to do,
    ``NotDue`` when the post's time or the backoff has not come yet.

    Nothing to do: the target is gone, published or failed; the post was edited (another
    revision), is no longer scheduled; another attempt holds it.
    """
    now = utcnow()
    target = lock_target(target_id)
    if target is None or target.status not in OPEN_TARGET:
        db.session.rollback()
        return None
    post = _post(target.post_id, lock=True)
    if (
        post is None
        or post.status not in LIVE_POST
        or post.approved_revision != revision
        or post.revision != revision
        or post.scheduled_at is None
    ):
        db.session.rollback()
        return None
    if aware(post.scheduled_at) > now + EARLY_TOLERANCE:
        due = aware(post.scheduled_at)
        db.session.rollback()
        return NotDue(due)
    state = ensure_state(target, revision)
    if state.next_attempt_at is not None and aware(state.next_attempt_at) > now + EARLY_TOLERANCE:
        due = aware(state.next_attempt_at)
        db.session.rollback()
        return NotDue(due)
    db.session.flush()
    if not _win_lease(state, now):
        db.session.rollback()
        return None
    reconcile = state.in_flight
    state.in_flight = True
    state.next_attempt_at = None
    state.job_id = job_id or state.job_id
    state.updated_at = now
    target.status = T.PUBLISHING.value
    target.attempts += 1
    move_post(post, S.PUBLISHING)
    result = Claim(
        target_id=target.id, post_id=post.id, channel_id=target.channel_id, revision=revision,
        attempt=target.attempts, idempotency_key=state.idempotency_key,
        checkpoints=dict(state.checkpoints or {}), reconcile_first=reconcile,
    )  # fmt: skip
    db.session.commit()
    return result


def checkpoint(claim_: Claim, key: str, value: str) -> None:
    """Persist what must survive a crash before the network call that depends on it.

    Locks only the state row (it never waits for a target or post lock while holding it, so
    it cannot deadlock with claim or _finish); on SQLite a write first takes the lock."""
    if not db.is_postgresql:
        db.session.execute(
            update(PublishState)
            .where(PublishState.target_id == claim_.target_id)
            .values(updated_at=PublishState.updated_at)
            .execution_options(synchronize_session=False)
        )
    stmt = select(PublishState).where(PublishState.target_id == claim_.target_id)
    if db.is_postgresql:
        stmt = stmt.with_for_update()
    state = db.session.scalar(stmt.execution_options(populate_existing=True))
    if state is None or state.revision != claim_.revision:
        db.session.rollback()
        return
    state.checkpoints = {**(state.checkpoints or {}), key: value}
    state.updated_at = utcnow()
    claim_.checkpoints[key] = value
    db.session.commit()


def _finish(claim_: Claim) -> tuple[PostTarget, Post, PublishState] | None:
    target = lock_target(claim_.target_id)
    state = _state(claim_.target_id)
    if target is None or state is None or state.revision != claim_.revision:
        db.session.rollback()
        return None
    post = _post(target.post_id, lock=True)
    assert post is not None
    state.in_flight = False
    state.claimed_until = None
    state.updated_at = utcnow()
    return target, post, state


def record_success(claim_: Claim, external_id: str, url: str | None) -> str | None:
    """Target published (once: a second success for it changes nothing); the post's status."""
    found = _finish(claim_)
    if found is None:
        return None
    target, post, _state_ = found
    if target.status != T.PUBLISHED.value:
        now = utcnow()
        target.status = T.PUBLISHED.value
        target.external_id, target.external_url = external_id, url
        target.published_at, target.last_error = now, None
        usage.record(
            db.session, client_id=post.client_id, target_id=target.id, kind=post.kind,
            occurred_at=now, post_id=post.id,
        )  # fmt: skip
        _audit(post, "post.target_published", target=target.id, external_id=external_id)
    status = settle_post(post)
    db.session.commit()
    return status


def record_retry(claim_: Claim, message: str, at: datetime, job_id: str) -> bool:
    """Back to scheduled with the error kept, not before ``at``; False if superseded."""
    found = _finish(claim_)
    if found is None:
        return False
    target, _post_, state = found
    if target.status != T.PUBLISHING.value:
        db.session.rollback()
        return False
    target.status = T.SCHEDULED.value
    target.last_error = message
    state.next_attempt_at = at
    state.job_id = job_id
    db.session.commit()
    return True


def record_failure(claim_: Claim, message: str) -> str | None:
    """Target failed with the network's message; the post's status (None if superseded)."""
    found = _finish(claim_)
    if found is None:
        return None
    target, post, _state_ = found
    if target.status == T.PUBLISHED.value:
        db.session.commit()
        return post.status
    target.status = T.FAILED.value
    target.last_error = message
    _audit(post, "post.target_failed", target=target.id, error=message)
    status = settle_post(post)
    db.session.commit()
    return status


def settle_post(post: Post) -> str:
    """The post's status from its targets: publishing until each is published or failed."""
    statuses = set(
        db.session.scalars(select(PostTarget.status).where(PostTarget.post_id == post.id))
    )
    if statuses & {T.PENDING.value, T.SCHEDULED.value, T.PUBLISHING.value} or not statuses:
        move_post(post, S.PUBLISHING)
    elif statuses == {T.PUBLISHED.value}:
        move_post(post, S.PUBLISHED)
    elif statuses == {T.FAILED.value}:
        move_post(post, S.FAILED)
    else:
        move_post(post, S.PARTIALLY_PUBLISHED)
    return post.status


def move_post(post: Post, new: PostStatus) -> None:
    """A status change the engine makes (no user: audited as the job), on the workflow's graph."""
    from agency.content.service import CLIENT_FACING, EDGES

    old = PostStatus(post.status)
    if new == old:
        return
    if new not in EDGES[old]:
        # scheduled → published goes through publishing, as the graph says.
        if old == S.SCHEDULED and new in EDGES[S.PUBLISHING]:
            move_post(post, S.PUBLISHING)
            old = S.PUBLISHING
        else:
            raise ValueError(f"post {post.id}: {old.value} cannot become {new.value}")
    post.status = new.value
    post.updated_at = utcnow()
    shared = new in CLIENT_FACING and post.client_revision is not None
    _audit(post, "post.status_changed", shared=shared, old=old.value, new=new.value)


def _audit(post: Post, action: str, **data: object) -> None:
    audit.record(
        action, actor_id=None, subject_type="post", subject_id=post.id,
        client_id=post.client_id, via="job", revision=post.revision, **data,
    )  # fmt: skip
