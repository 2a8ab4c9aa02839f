"""One publish attempt's bookkeeping: claim a target, checkpoint, record the outcome.

Every step is its own short transaction that locks the target row first (``SELECT … FOR
UPDATE`` on PostgreSQL; on SQLite a write as the transaction's first statement takes the
database's write lock), so two workers on one target serialise. The claim is a conditional
``UPDATE`` of the target's lease that only one of them can win; the idempotency key is
committed before any network call and kept across retries of the same revision.

These run once per publication, so they use prebuilt statements (``_queries``) on plain rows,
not ORM objects: a claim is one locking read and four writes, an outcome one locking read and
at most five writes. The ORM's tenant scoping still applies to every one of them (they are
ORM-enabled statements), and RLS below it.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import JSON, Row, Text, bindparam, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agency import audit
from agency.channels.models import Channel
from agency.content.models import Post, PostStatus, PostTarget, Revision, TargetStatus, aware
from agency.db import db, utcnow
from agency.publishing.models import PublishState
from billing import usage
from tenants.context import current_agency_id
from tenants.models import ClientCompany

S = PostStatus
T = TargetStatus
OPEN_TARGET = (T.SCHEDULED.value, T.PUBLISHING.value)
LIVE_POST = (S.SCHEDULED.value, S.PUBLISHING.value)
# A job that starts a little before its time (clock skew between machines) still runs.
EARLY_TOLERANCE = timedelta(seconds=0.5)


@dataclass(frozen=True)
class Work:
    """What an attempt sends, read by the claim under its locks: the channel (network,
    settings and encrypted secrets) and the approved revision's text and media."""

    agency_id: uuid.UUID
    client_id: uuid.UUID
    kind: str
    network: str
    channel_name: str
    channel_status: str
    settings: dict
    credentials_encrypted: str | None
    body: str
    variants: dict
    media: list


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
    work: Work | None = None


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


class Superseded(Exception):
    """A checkpoint found the state of another revision: a newer text's attempt owns the
    target, so this attempt must not call the network."""


@dataclass
class NotDue:
    """What a claim too early hands back: when the target is due (the post's time, or the
    end of its backoff)."""

    at: datetime


def claim(
    target_id: uuid.UUID,
    revision: int,
    job_id: str | None = None,
    first_checkpoints: Callable[[str], dict[str, str]] | None = None,
) -> Claim | NotDue | None:
    """Claim ``target_id`` for one attempt at ``revision``; None when there is nothing to do,
    ``NotDue`` when the post's time or the backoff has not come yet.

    ``first_checkpoints(network)``: what the network's connector would checkpoint before its
    first call (``Connector.first_checkpoints``), committed with the claim where the state
    has no such key yet.

    Nothing to do: the target is gone, published or failed; the post was edited (another
    revision), is no longer scheduled; another attempt holds it.

    One read locks the target and its post and brings what the attempt needs (the channel,
    the approved revision's text), a second locks and reads the state; the lease, the target
    and the post are then written with prebuilt statements and no ORM objects: the hot path
    of every publication. Decisions rest only on rows the transaction has locked (see
    ``state_read``).
    """
    now = utcnow()
    q = _queries()
    if not db.is_postgresql:
        # A write first: SQLite takes its write lock now, not on a later upgrade that can fail.
        db.session.execute(q.sqlite_lock, {"target_id": target_id})
    row = db.session.execute(q.claim_read, {"target_id": target_id, "revision": revision}).first()
    if (
        row is None
        or row.status not in OPEN_TARGET
        or row.post_status not in LIVE_POST
        or row.approved_revision != revision
        or row.post_revision != revision
        or row.scheduled_at is None
    ):
        db.session.rollback()
        return None
    if row.body is None:  # the approved revision's row is gone (never, short of a manual edit)
        current_app.logger.warning("target %s: post has no revision %s", target_id, revision)
        db.session.rollback()
        return None
    if aware(row.scheduled_at) > now + EARLY_TOLERANCE:
        db.session.rollback()
        return NotDue(aware(row.scheduled_at))
    state = db.session.execute(q.state_read, {"target_id": target_id}).first()
    # A newly approved text is a new publication: new key, nothing carried over.
    fresh = state is None or state.revision != revision
    backoff = None if fresh or state.next_attempt_at is None else aware(state.next_attempt_at)
    if backoff is not None and backoff > now + EARLY_TOLERANCE:
        db.session.rollback()
        return NotDue(backoff)
    until = now + timedelta(seconds=_settings().publish_lease_seconds)
    key = uuid.uuid4().hex if fresh else state.idempotency_key
    checkpoints = {} if fresh else dict(state.checkpoints or {})
    # Earlier attempts' values win: a retry keeps its record key.
    checkpoints = {**(first_checkpoints(row.network) if first_checkpoints else {}), **checkpoints}
    reconcile = False if fresh else bool(state.in_flight)
    if state is None:
        values = {
            "id": uuid.uuid4(), "agency_id": current_agency_id(), "created_at": now,
            "target_id": target_id, "post_id": row.post_id, "revision": revision,
            "idempotency_key": key, "checkpoints": checkpoints, "in_flight": True,
            "claimed_until": until, "next_attempt_at": None, "updated_at": now, "job_id": job_id,
        }  # fmt: skip
        won = db.session.execute(q.insert_state, values).first() is not None
    else:
        # The conditional UPDATE claim: only one attempt at a time holds a live lease (a
        # new revision's first attempt takes it whatever an old revision's attempt holds).
        params = {
            "state_id": state.id, "now": now, "v_claimed_until": until, "v_in_flight": True,
            "v_next_attempt_at": None, "v_updated_at": now, "v_job_id": job_id,
            "v_checkpoints": checkpoints,  # read under the state's lock: nothing lost
        }  # fmt: skip
        if fresh:
            params |= {"v_revision": revision, "v_idempotency_key": key}
        won = db.session.execute(q.reset_state if fresh else q.take_lease, params).rowcount == 1
    if not won:
        db.session.rollback()
        return None
    db.session.execute(q.target_publishing, {"target_id": target_id})
    events: list[dict] = []
    _move_row(row, row.post_status, S.PUBLISHING, now, events)
    audit.insert_rows(events)
    result = Claim(
        target_id=target_id, post_id=row.post_id, channel_id=row.channel_id, revision=revision,
        attempt=row.attempts + 1, idempotency_key=key, checkpoints=checkpoints,
        reconcile_first=reconcile,
        work=Work(
            agency_id=row.agency_id, client_id=row.client_id, kind=row.kind,
            network=row.network, channel_name=row.channel_name,
            channel_status=row.channel_status, settings=dict(row.settings or {}),
            credentials_encrypted=row.credentials_encrypted, body=row.body,
            variants=dict(row.variants or {}), media=list(row.media or []),
        ),
    )  # fmt: skip
    db.session.commit()
    return result


def checkpoint(claim_: Claim, key: str, value: str) -> None:
    """Persist what must survive a crash before the network call that depends on it.

    One conditional UPDATE of the state row (of this revision) merging ``key`` into its
    checkpoints: it locks only that row (it never waits for a target or post lock while
    holding it, so it cannot deadlock with claim or _finish), and commits. Raises
    ``Superseded`` when the state is of another revision: nothing may be sent then."""
    q = _queries()
    done = db.session.execute(
        q.checkpoint,
        {
            "w_target_id": claim_.target_id,
            "w_revision": claim_.revision,
            "v_patch": json.dumps({key: value}),
            "v_now": utcnow(),
        },  # fmt: skip
    ).rowcount
    if done != 1:
        db.session.rollback()
        raise Superseded(f"target {claim_.target_id}: revision {claim_.revision} superseded")
    claim_.checkpoints[key] = value
    db.session.commit()


def _finish(claim_: Claim) -> tuple[Row, uuid.UUID] | None:
    """Lock the target, its post and its state; release the lease. The target and post row
    (with the client's time zone) and the state's id; None (rolled back) if the state is
    of another revision (a newer text's attempt owns it)."""
    q = _queries()
    if not db.is_postgresql:
        db.session.execute(q.sqlite_lock, {"target_id": claim_.target_id})
    row = db.session.execute(q.finish_read, {"target_id": claim_.target_id}).first()
    if row is None:
        db.session.rollback()
        return None
    state = db.session.execute(q.state_read, {"target_id": claim_.target_id}).first()
    if state is None or state.revision != claim_.revision:
        db.session.rollback()
        return None
    db.session.execute(
        q.release_lease, {"state_id": state.id, "w_revision": claim_.revision, "v_now": utcnow()}
    )
    return row, state.id


def record_success(claim_: Claim, external_id: str, url: str | None) -> str | None:
    """Target published (once: a second success for it changes nothing); the post's status."""
    found = _finish(claim_)
    if found is None:
        return None
    row, _state_id = found
    events: list[dict] = []
    if row.status != T.PUBLISHED.value:
        now = utcnow()
        db.session.execute(
            _queries().target_published,
            {
                "target_id": claim_.target_id,
                "v_external_id": external_id,
                "v_url": url,
                "v_now": now,
            },  # fmt: skip
        )
        usage.record(
            db.session, client_id=row.client_id, target_id=claim_.target_id, kind=row.kind,
            occurred_at=now, post_id=row.post_id, client_timezone=row.timezone,
        )  # fmt: skip
        events.append(
            _event(row, "post.target_published", target=claim_.target_id, external_id=external_id)
        )
    status = _settle_row(row, events)
    audit.insert_rows(events)
    db.session.commit()
    return status


def record_retry(claim_: Claim, message: str, at: datetime, job_id: str) -> bool:
    """Back to scheduled with the error kept, not before ``at``; False if superseded."""
    found = _finish(claim_)
    if found is None:
        return False
    row, state_id = found
    if row.status != T.PUBLISHING.value:
        db.session.rollback()
        return False
    q = _queries()
    db.session.execute(q.target_retry, {"target_id": claim_.target_id, "v_message": message})
    db.session.execute(
        q.state_backoff,
        {"state_id": state_id, "w_revision": claim_.revision, "v_at": at, "v_job_id": job_id},
    )
    db.session.commit()
    return True


def record_failure(claim_: Claim, message: str) -> str | None:
    """Target failed with the network's message; the post's status (None if superseded)."""
    found = _finish(claim_)
    if found is None:
        return None
    row, _state_id = found
    if row.status == T.PUBLISHED.value:
        db.session.commit()
        return row.post_status
    db.session.execute(
        _queries().target_failed, {"target_id": claim_.target_id, "v_message": message}
    )
    events = [_event(row, "post.target_failed", target=claim_.target_id, error=message)]
    status = _settle_row(row, events)
    audit.insert_rows(events)
    db.session.commit()
    return status


def _settle_row(row: Row, events: list[dict]) -> str:
    """The post's status from its targets (publishing until each is published or failed):
    their statuses read after this transaction's own update and after the post's lock (so a
    sibling's outcome committed meanwhile counts), the post row written only if it changes."""
    statuses = set(db.session.scalars(_queries().target_statuses, {"post_id": row.post_id}))
    return _move_row(row, row.post_status, _aggregate(statuses), utcnow(), events)


def _move_row(row: Row, old: str, new: PostStatus, now: datetime, events: list[dict]) -> str:
    """``move_post`` on a read row: its events into ``events``, one UPDATE of the post."""
    steps = _steps(PostStatus(old), new, row.post_id)
    for before, after in steps:
        events.append(_status_event(row, before, after))
    if steps:
        db.session.execute(
            _queries().post_status, {"post_id": row.post_id, "v_status": new.value, "v_now": now}
        )
    return new.value


def _event(row: Row, action: str, **data: object) -> dict:
    return audit.values(
        action, actor_id=None, subject_type="post", subject_id=row.post_id,
        client_id=row.client_id, via="job", revision=row.post_revision, **data,
    )  # fmt: skip


def _status_event(row: Row, old: PostStatus, new: PostStatus) -> dict:
    shared = _shared(new, row.client_revision)
    return _event(row, "post.status_changed", shared=shared, old=old.value, new=new.value)


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


@dataclass(frozen=True)
class _Queries:
    sqlite_lock: object
    claim_read: object
    state_read: object
    insert_state: object
    reset_state: object
    take_lease: object
    target_publishing: object
    post_status: object
    checkpoint: object
    finish_read: object
    release_lease: object
    target_published: object
    target_retry: object
    target_failed: object
    state_backoff: object
    target_statuses: object


@functools.cache
def _queries_for(postgresql: bool) -> _Queries:
    """The engine's statements, built once per dialect (building one costs more Python than
    running it). Bound parameters of SET values are named ``v_…``: SQLAlchemy reserves the
    columns' own names for its automatic ones."""
    P = bindparam  # noqa: N806
    no_sync = {"synchronize_session": False}

    def locked(statement):  # noqa: ANN001, ANN202
        return statement.with_for_update(of=[PostTarget, Post]) if postgresql else statement

    def write(entity, *where):  # noqa: ANN001, ANN002, ANN202
        return update(entity).where(*where).execution_options(**no_sync)

    target = PostTarget.id == P("target_id")
    state = PublishState.id == P("state_id")
    # Redundant with the join, but it pins the post by its primary key whatever the planner
    # believes about the tables (fresh ones have no statistics: it then nested-looped over
    # every post of the agency).
    its_post = Post.id == select(PostTarget.post_id).where(target).scalar_subquery()

    def target_and_post(*columns, joins):  # noqa: ANN001, ANN002, ANN202
        """The target and its post, locked (target, then post), with ``columns`` of ``joins``."""
        statement = select(
            PostTarget.status, PostTarget.post_id, Post.client_id, Post.kind,
            Post.status.label("post_status"), Post.revision.label("post_revision"),
            Post.client_revision, *columns,
        ).select_from(PostTarget).join(Post, Post.id == PostTarget.post_id)  # fmt: skip
        for entity, on, outer in joins:
            statement = statement.join(entity, on, isouter=outer)
        return locked(statement.where(target, its_post))

    claim_read = target_and_post(
        PostTarget.attempts, PostTarget.channel_id, Post.agency_id, Post.approved_revision,
        Post.scheduled_at, Channel.network, Channel.name.label("channel_name"),
        Channel.status.label("channel_status"), Channel.settings, Channel.credentials_encrypted,
        Revision.body, Revision.variants, Revision.media,
        joins=[
            (Channel, Channel.id == PostTarget.channel_id, False),
            (Revision, (Revision.post_id == Post.id) & (Revision.number == P("revision")), True),
        ],
    )  # fmt: skip
    insert = pg_insert if postgresql else sqlite_insert
    lease = {
        "claimed_until": P("v_claimed_until"), "in_flight": P("v_in_flight"),
        "next_attempt_at": P("v_next_attempt_at"), "updated_at": P("v_updated_at"),
        "job_id": func.coalesce(P("v_job_id", type_=PublishState.job_id.type), PublishState.job_id),
        "checkpoints": P("v_checkpoints"),
    }  # fmt: skip
    fresh = {"revision": P("v_revision"), "idempotency_key": P("v_idempotency_key")}
    # The checkpoints merged with {key: value} in the UPDATE itself (no read first).
    patch, empty = P("v_patch", type_=Text), literal("{}", Text)
    if postgresql:
        merged = func.coalesce(cast(PublishState.checkpoints, JSONB), cast(empty, JSONB))
        patched = cast(merged.op("||")(cast(patch, JSONB)), JSON)
    else:
        patched = func.json_patch(func.coalesce(PublishState.checkpoints, empty), patch, type_=JSON)
    finish_read = target_and_post(
        ClientCompany.timezone, joins=[(ClientCompany, ClientCompany.id == Post.client_id, False)]
    )
    # Its own statement, after the locks: a locking read that waited returns the newest
    # version of the rows it locks, but the other tables' rows as of its start (READ
    # COMMITTED). The state row must be the newest: locked too, target → post → state.
    state_read = select(
        PublishState.id, PublishState.revision, PublishState.idempotency_key,
        PublishState.checkpoints, PublishState.in_flight, PublishState.next_attempt_at,
    ).where(PublishState.target_id == P("target_id"))  # fmt: skip
    if postgresql:
        state_read = state_read.with_for_update()
    return _Queries(
        sqlite_lock=write(PostTarget, target).values(attempts=PostTarget.attempts),
        claim_read=claim_read,
        state_read=state_read,
        insert_state=insert(PublishState)
        .on_conflict_do_nothing(index_elements=["agency_id", "target_id"])
        .returning(PublishState.id),
        reset_state=write(PublishState, state).values(**lease, **fresh),
        take_lease=write(
            PublishState,
            state,
            or_(PublishState.claimed_until.is_(None), PublishState.claimed_until <= P("now")),
        ).values(**lease),
        target_publishing=write(PostTarget, target).values(
            status=T.PUBLISHING.value, attempts=PostTarget.attempts + 1
        ),
        post_status=write(Post, Post.id == P("post_id")).values(
            status=P("v_status"), updated_at=P("v_now")
        ),
        checkpoint=write(
            PublishState,
            PublishState.target_id == P("w_target_id"),
            PublishState.revision == P("w_revision"),
        ).values(checkpoints=patched, updated_at=P("v_now")),
        finish_read=finish_read,
        release_lease=write(PublishState, state, PublishState.revision == P("w_revision")).values(
            in_flight=False, claimed_until=None, updated_at=P("v_now")
        ),
        target_published=write(PostTarget, target).values(
            status=T.PUBLISHED.value,
            external_id=P("v_external_id"),
            external_url=P("v_url"),
            published_at=P("v_now"),
            last_error=None,
        ),  # fmt: skip
        target_retry=write(PostTarget, target).values(
            status=T.SCHEDULED.value, last_error=P("v_message")
        ),
        target_failed=write(PostTarget, target).values(
            status=T.FAILED.value, last_error=P("v_message")
        ),
        state_backoff=write(PublishState, state, PublishState.revision == P("w_revision")).values(
            next_attempt_at=P("v_at"), job_id=P("v_job_id")
        ),
        target_statuses=select(PostTarget.status).where(PostTarget.post_id == P("post_id")),
    )


def _queries() -> _Queries:
    return _queries_for(db.is_postgresql)
