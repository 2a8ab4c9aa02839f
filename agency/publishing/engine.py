"""One publish attempt's bookkeeping: claim a target, checkpoint, record the outcome.

Every step is its own short transaction that locks the target row first (``SELECT … FOR
UPDATE`` on PostgreSQL; on SQLite a write as the transaction's first statement takes the
database's write lock), so two workers on one target serialise. The claim is a conditional
``UPDATE`` of the target's lease that only one of them can win; the idempotency key is
committed before any network call and kept across retries of the same revision.

These run once per publication, so they use prebuilt statements (``queries``) on plain rows,
not ORM objects: a claim is one locking read and four writes, an outcome one locking read and
at most five writes. The ORM's tenant scoping still applies to every one of them (they are
ORM-enabled statements), and RLS below it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Row, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agency import audit
from agency.content.models import PostStatus, PostTarget, TargetStatus, aware
from agency.db import db, utcnow
from agency.publishing.models import PublishState
from agency.publishing.post_status import move_row, row_event, settle_row
from agency.publishing.queries import queries
from billing import usage
from tenants.context import current_agency_id

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
    q = queries()
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
    move_row(row, row.post_status, S.PUBLISHING, now, events)
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
    q = queries()
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
    q = queries()
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
            queries().target_published,
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
            row_event(
                row, "post.target_published", target=claim_.target_id, external_id=external_id
            )
        )
    status = settle_row(row, events)
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
    q = queries()
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
        queries().target_failed, {"target_id": claim_.target_id, "v_message": message}
    )
    events = [row_event(row, "post.target_failed", target=claim_.target_id, error=message)]
    status = settle_row(row, events)
    audit.insert_rows(events)
    db.session.commit()
    return status
