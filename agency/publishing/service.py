"""Publishing rules (DESIGN.md §7): when targets get jobs, which jobs are alive, the sweeper,
the retry of a failed target, and what happens to a channel whose credentials expired.

The database is the source of truth: a job is only a reminder to look at a target. Approval
schedules ``publish:<target>:<revision>`` at ``scheduled_at`` once the approval commits;
the sweeper re-creates any due target's job that Redis lost.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import event, select

from agency import audit
from agency.channels import breakage
from agency.channels.models import Channel, ChannelStatus
from agency.content.models import Post, PostStatus, PostTarget, TargetStatus, aware
from agency.db import db, utcnow
from agency.errors import IllegalTransition, NotFound, PermissionDenied
from agency.publishing import engine, post_status
from agency.publishing.models import ChannelSync, PublishState
from tenants.context import tenant_context
from tenants.models import Agency
from tenants.permissions import Access, Permission

log = logging.getLogger(__name__)
_PENDING = "regia_pending_publish_jobs"
# Networks a person publishes to by hand (channelconnect): no job, the target waits for them.
HAND_PUBLISHED = frozenset({"manual"})
LIVE = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED})
JOB_TIMEOUT = 180  # seconds; the lease (publish_lease_seconds) outlasts it
#: A scheduled job this long past its time was missed by RQ's scheduler (which moves it
#: within a second): its holder died with the lock, which another worker takes over only
#: after the lock's 61 s TTL, at its next maintenance pass. The sweeper enqueues it instead.
SCHEDULER_GRACE_SECONDS = 5


def publish_job_id(target_id: uuid.UUID | str, revision: int, attempt: int = 0) -> str:
    """``publish-<target>-<revision>`` (the contract's ``publish:<target>:<revision>``; RQ 3
    allows only letters, digits, ``-`` and ``_`` in ids); a retry after backoff adds
    ``-<attempt>``."""
    base = f"publish-{target_id}-{revision}"
    return f"{base}-{attempt}" if attempt else base


# -- scheduling on approval -----------------------------------------------------------------


def on_scheduled(post: Post) -> None:
    """The workflow moved ``post`` to scheduled: once that commits, a job per target.

    Called inside the workflow's transaction; a rollback schedules nothing.
    """
    session = db.session()
    pending = session.info.setdefault(_PENDING, [])
    for target_id, network in session.execute(
        select(PostTarget.id, Channel.network)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(PostTarget.post_id == post.id, PostTarget.status == TargetStatus.SCHEDULED.value)
    ):
        if network not in HAND_PUBLISHED:
            pending.append((post.agency_id, target_id, post.revision, aware(post.scheduled_at)))
    if not event.contains(session, "after_commit", _enqueue_pending):
        event.listen(session, "after_commit", _enqueue_pending)
        event.listen(session, "after_rollback", _drop_pending)


def _drop_pending(session) -> None:  # noqa: ANN001
    session.info.pop(_PENDING, None)


def _enqueue_pending(session) -> None:  # noqa: ANN001
    for agency_id, target_id, revision, at in session.info.pop(_PENDING, []):
        try:
            # Always via RQ's scheduler (due now: within a second): never run a job inside
            # this commit hook, which RQ's synchronous mode would do.
            enqueue_publish(agency_id, target_id, revision, at or utcnow(), scheduled=True)
        except Exception:  # Redis down: the sweeper enqueues it within a minute
            log.exception("could not schedule publish job for target %s", target_id)


def enqueue_publish(
    agency_id: uuid.UUID,
    target_id: uuid.UUID,
    revision: int,
    at: datetime | None,
    *,
    attempt: int = 0,
    scheduled: bool = False,
) -> str:
    """Put the target's job on the ``publish`` queue, at ``at`` (RQ's scheduler) or now."""
    from agency.jobs import queue
    from agency.publishing.jobs import publish_target

    job_id = publish_job_id(target_id, revision, attempt)
    args = (str(agency_id), str(target_id), revision)
    options = {"job_id": job_id, "job_timeout": JOB_TIMEOUT, "failure_ttl": 7 * 24 * 3600}
    q = queue("publish")
    if at is not None and (scheduled or at > utcnow()):
        q.enqueue_at(at, publish_target, *args, **options)
    else:
        q.enqueue(publish_target, *args, **options)
    return job_id


def job_is_live(job_id: str, state: PublishState | None, now: datetime | None = None) -> bool:
    """Queued, scheduled and not yet overdue, or running under a lease that has not run out
    (a dead worker's job stays "started" in Redis forever; its lease does not)."""
    from agency.jobs import redis_client

    now = now or utcnow()
    try:
        job = Job.fetch(job_id, connection=redis_client())
        status = job.get_status()
    except NoSuchJobError:
        return False
    if status == JobStatus.SCHEDULED:
        return not missed_by_scheduler(job, now)
    if status in LIVE:
        return True
    if status == JobStatus.STARTED:
        if state is None or state.claimed_until is None:
            return not (state is not None and state.in_flight)
        return aware(state.claimed_until) > now
    return False


def missed_by_scheduler(job: Job, now: datetime) -> bool:
    """A scheduled job more than ``SCHEDULER_GRACE_SECONDS`` past its time, or in no
    scheduled registry (no scheduler would ever move it)."""
    registry = ScheduledJobRegistry(job.origin, connection=job.connection)
    try:
        at = registry.get_scheduled_time(job)
    except NoSuchJobError:
        return True
    return (now - at).total_seconds() > SCHEDULER_GRACE_SECONDS


# -- the sweeper ----------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Enqueue every due, approved, unpublished target without a live job, in every agency,
    and the inbound sync of every channel that is due for one; announce the posts due to be
    published by hand (``by_hand``). Counts what it enqueued and announced."""
    now = now or utcnow()
    from agency.publishing import by_hand

    counts = {"publish": 0, "inbound": 0, "by_hand": 0}
    agency_ids = list(db.session.scalars(select(Agency.id)))
    db.session.rollback()
    for agency_id in agency_ids:
        with tenant_context(agency_id):
            try:
                counts["publish"] += _sweep_targets(agency_id, now)
                counts["inbound"] += _sweep_inbound(agency_id, now)
                counts["by_hand"] += by_hand.announce_due(now)
            finally:
                db.session.rollback()  # read-only: end the transaction under this agency
    return counts


def _sweep_targets(agency_id: uuid.UUID, now: datetime) -> int:
    from agency.jobs import redis_client

    rows = db.session.execute(
        select(PostTarget.id, Post.revision, PublishState)
        .join(Post, Post.id == PostTarget.post_id)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .outerjoin(PublishState, PublishState.target_id == PostTarget.id)
        .where(
            Post.status.in_(engine.LIVE_POST),
            Post.approved_revision == Post.revision,
            Post.scheduled_at <= now,
            PostTarget.status.in_(engine.OPEN_TARGET),
            Channel.network.not_in(HAND_PUBLISHED),
        )
    ).all()
    enqueued = 0
    for target_id, revision, state in rows:
        current = state if state is not None and state.revision == revision else None
        waiting = current is not None and current.next_attempt_at is not None
        if waiting and aware(current.next_attempt_at) > now:
            continue
        job_id = (current.job_id if current else None) or publish_job_id(target_id, revision)
        if job_is_live(job_id, current, now):
            continue
        # A job the scheduler missed leaves its registry first: a scheduler taking over later
        # must not move it as well (a second run would only find the target claimed or done).
        ScheduledJobRegistry("publish", connection=redis_client()).remove(job_id)
        enqueue_publish(agency_id, target_id, revision, None)
        enqueued += 1
    return enqueued


def _sweep_inbound(agency_id: uuid.UUID, now: datetime) -> int:
    from agency.jobs import queue
    from agency.publishing.connectors import inbound_networks
    from agency.publishing.jobs import sync_inbound

    interval = current_app.config["REGIA"].inbound_sync_seconds
    rows = db.session.execute(
        select(Channel.id, ChannelSync.last_synced_at)
        .outerjoin(ChannelSync, ChannelSync.channel_id == Channel.id)
        .where(
            Channel.status == ChannelStatus.CONNECTED.value,
            Channel.network.in_(inbound_networks()),
        )
    ).all()
    enqueued = 0
    for channel_id, last in rows:
        if last is not None and (now - aware(last)).total_seconds() < interval:
            continue
        job_id = f"inbound-{channel_id}"
        if job_is_live(job_id, None):
            continue
        queue("default").enqueue(
            sync_inbound, str(agency_id), str(channel_id), job_id=job_id, job_timeout=JOB_TIMEOUT
        )
        enqueued += 1
    return enqueued


def failed_with_only_hand_left(post_id: uuid.UUID) -> bool:
    """A target of the post failed and every target still open is published by hand: the
    automatic channels have all ended, so the failure is known now (the post stays
    publishing until the manual ones are marked published)."""
    rows = db.session.execute(
        select(PostTarget.status, Channel.network)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(PostTarget.post_id == post_id)
    ).all()
    failed = any(status == TargetStatus.FAILED.value for status, _network in rows)
    automatic_open = any(
        status in engine.OPEN_TARGET + (TargetStatus.PENDING.value,)
        and network not in HAND_PUBLISHED
        for status, network in rows
    )
    return failed and not automatic_open


# -- a person retries a failed target -------------------------------------------------------


def retry_channel(
    access: Access, post_id: uuid.UUID, channel_id: uuid.UUID, *, via: str = "api"
) -> Post:
    """``retry_target`` for the post's target on ``channel_id`` (the API names the channel)."""
    from agency.content.service import get_post

    get_post(access, post_id)  # 404 first for a post this user cannot see
    target_id = db.session.scalar(
        select(PostTarget.id).where(
            PostTarget.post_id == post_id, PostTarget.channel_id == channel_id
        )
    )
    if target_id is None:
        db.session.rollback()
        raise NotFound(_("No such target."))
    return retry_target(access, post_id, target_id, via=via)


def retry_target(
    access: Access, post_id: uuid.UUID, target_id: uuid.UUID, *, via: str = "web"
) -> Post:
    """Managers and owners send a failed target again (same revision, attempts reset)."""
    from agency.content.service import get_post

    post = get_post(access, post_id, lock=True)
    if not may_retry(access, post.client_id):
        raise PermissionDenied(_("Only managers can retry publishing."))
    target = engine.lock_target(target_id)
    if target is None or target.post_id != post.id:
        db.session.rollback()
        raise NotFound(_("No such target."))
    channel = db.session.scalar(select(Channel).where(Channel.id == target.channel_id))
    refusal = retry_refusal(
        post.status, post.approved_revision, post.revision, target.status,
        channel.status if channel is not None else None,
    )  # fmt: skip
    if refusal is not None:
        db.session.rollback()
        raise IllegalTransition(_refusal_message(refusal, channel))
    state = engine.ensure_state(target, post.revision)
    state.next_attempt_at = state.claimed_until = None
    state.in_flight, state.job_id = False, None
    target.status, target.attempts = TargetStatus.SCHEDULED.value, 0
    post_status.move_post(post, PostStatus.PUBLISHING)
    audit.record_by(
        access, "post.target_retried", subject_type="post", subject_id=post.id,
        client_id=post.client_id, via=via, target=target.id, revision=post.revision,
    )  # fmt: skip
    pending = db.session.info.setdefault(_PENDING, [])
    pending.append((post.agency_id, target.id, post.revision, None))
    session = db.session()
    if not event.contains(session, "after_commit", _enqueue_pending):
        event.listen(session, "after_commit", _enqueue_pending)
        event.listen(session, "after_rollback", _drop_pending)
    db.session.commit()
    return post


#: A failed target is retried while its post is (or ended) being published; not once the
#: post is archived, edited back into the workflow, or published everywhere.
RETRY_POST_STATUSES = frozenset(
    {PostStatus.PUBLISHING.value, PostStatus.FAILED.value, PostStatus.PARTIALLY_PUBLISHED.value}
)
#: ``retry_refusal``'s answer when the target or its post is in no state to be retried.
NOT_RETRYABLE = "not_retryable"


def may_retry(access: Access | None, client_id: uuid.UUID) -> bool:
    """Who retries publishing: the client's owners and managers (never the client side)."""
    return access is not None and access.can(Permission.INTERNAL_REVIEW, client_id)


def retry_refusal(
    post_status: str,
    approved_revision: int | None,
    revision: int,
    target_status: str,
    channel_status: str | None,
) -> str | None:
    """Why a retry of this target would be refused, ``None`` if it would be accepted.

    The one rule ``retry_target`` enforces and the post page's retry button follows:
    ``NOT_RETRYABLE`` unless it is a failed target of the approved text (not of an edit
    waiting for its approval) of a post in ``RETRY_POST_STATUSES``; then the channel's status
    (``needs_reconnect``, ``disabled``) while the channel cannot publish, since a retry would
    fail at once (and e-mail everyone again).
    """
    if (
        target_status != TargetStatus.FAILED.value
        or approved_revision != revision
        or post_status not in RETRY_POST_STATUSES
    ):
        return NOT_RETRYABLE
    if channel_status is not None and channel_status != ChannelStatus.CONNECTED.value:
        return channel_status
    return None


def _refusal_message(refusal: str, channel: Channel | None) -> str:
    """What the person is told when ``retry_refusal`` says no (what to do first, if any)."""
    if refusal == NOT_RETRYABLE or channel is None:
        return _("Only a failed target of the approved text can be retried.")
    if refusal == ChannelStatus.NEEDS_RECONNECT.value:
        return _(
            "%(channel)s needs reconnecting: reconnect the channel first, then retry.",
            channel=channel.name,
        )
    return _("%(channel)s is disabled: enable the channel first, then retry.", channel=channel.name)


# -- expired credentials --------------------------------------------------------------------


def mark_needs_reconnect(channel_id: uuid.UUID, message: str) -> bool:
    """The channel's credentials stopped working: ``needs_reconnect`` (settings kept) and the
    agency's owners and managers told once, in the app in this transaction (the caller commits,
    then e-mails them); False if it already was, also when another process has just marked it
    (exactly one of them tells anyone: ``flag_needs_reconnect``)."""
    return breakage.flag_needs_reconnect(channel_id, message) is not None
