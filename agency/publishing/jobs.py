"""Publishing jobs: publish one target, sweep for due targets, sync a channel's inbound items.

Jobs take ids, open their own app and tenant context (``agency.jobs.job``), commit or roll
back, and re-raise. No lock or transaction is held during a network call.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale, lazy_ngettext
from flask_babel import lazy_gettext as _l
from rq import get_current_job
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agency import crypto, outbound, outbound_retry
from agency.channels.models import Channel, ChannelStatus
from agency.channels.service import connection_settings, decrypted_settings
from agency.content.models import InboxItem, PostKind, PostStatus, aware
from agency.db import db, utcnow
from agency.jobs import job
from agency.publishing import engine, notices, service
from agency.publishing.connectors import load
from agency.publishing.connectors.base import (
    Connector,
    ErrorClass,
    MediaFile,
    Outgoing,
    Published,
    PublishError,
)
from agency.publishing.models import ChannelSync
from agency.publishing.sessions import RedisSessionStore
from tenants.models import Agency

MIMETYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}


# RQ keeps a scheduled job's time in whole seconds and moves it once that second has begun,
# so a job can start up to a second before its time: it waits that out rather than leave
# the post to the next sweep (a minute). A job any earlier than this leaves it.
EARLY_WAIT_SECONDS = 1.2


@job
def publish_target(agency_id: uuid.UUID | None, target_id: str, revision: int) -> str:
    """One attempt at one target; what happened ("published", "retry", "failed", "skipped")."""
    current = get_current_job()
    job_id = current.id if current else None
    claim = engine.claim(uuid.UUID(target_id), revision, job_id, _first_checkpoints)
    if isinstance(claim, engine.NotDue):
        wait = (claim.at - utcnow()).total_seconds()
        if wait > EARLY_WAIT_SECONDS:
            return "skipped"
        time.sleep(max(0.0, wait))  # no transaction (claim rolled back) and no lock held
        claim = engine.claim(uuid.UUID(target_id), revision, job_id, _first_checkpoints)
    if not isinstance(claim, engine.Claim):
        return "skipped"
    return _attempt(claim)


def _first_checkpoints(network: str) -> dict[str, str]:
    connector = load().get(network)
    return connector.first_checkpoints() if connector else {}


@job
def sweep_due(agency_id: uuid.UUID | None) -> dict[str, int]:
    """The sweeper (every minute, from each worker's ticker): the database is the truth."""
    return service.sweep()


_in_worker = False


def warm() -> None:
    """In the worker's main process, before any job: import every connector, build the TLS
    context and configure the mappers once, and let jobs share one keep-alive HTTP client."""
    global _in_worker
    from sqlalchemy.orm import configure_mappers

    load()
    outbound.tls_context()
    configure_mappers()
    _in_worker = True


def _connector(channel: Channel, claim: engine.Claim | None = None) -> Connector | None:
    return _connector_for(channel.network, channel.id, connection_settings(channel), claim)


def _connector_for(
    network: str, channel_id: uuid.UUID, settings: dict, claim: engine.Claim | None
) -> Connector | None:
    cls = load().get(network)
    if cls is None:
        return None
    checkpoint = (lambda k, v: engine.checkpoint(claim, k, v)) if claim else (lambda k, v: None)
    # A worker reuses connections to a network from job to job; elsewhere (the test suite's
    # in-process jobs, whose fakes come and go) each job gets its own client.
    http = outbound.shared_client() if _in_worker else outbound.client()
    connector = cls(settings, http, checkpoint)
    if hasattr(connector, "sessions"):
        connector.sessions = RedisSessionStore(channel_id)
    return connector


def build_outgoing(work: engine.Work, claim: engine.Claim) -> Outgoing:
    """The APPROVED revision's text for this channel (its variant, else the base text)."""
    text = (work.variants or {}).get(str(claim.channel_id)) or work.body
    folder = (
        current_app.config["REGIA"].media_root / "posts" / work.agency_id.hex / work.client_id.hex
    )
    media = tuple(
        MediaFile(folder / ref, MIMETYPES.get(ref.rsplit(".", 1)[-1], "application/octet-stream"))
        for ref in (work.media or [])
    )
    reply_to = None
    if work.kind == PostKind.REPLY.value:
        reply_to = db.session.scalar(
            select(InboxItem.external_id).where(InboxItem.reply_post_id == claim.post_id)
        )
    return Outgoing(
        target_id=str(claim.target_id), idempotency_key=claim.idempotency_key, text=text,
        media=media, reply_to=reply_to, state=claim.checkpoints,
    )  # fmt: skip


def _attempt(claim: engine.Claim) -> str:
    work = claim.work
    assert work is not None  # the claim read it under its locks
    ids = (claim.post_id, work.agency_id)
    if work.network not in load():
        return _fail(
            claim, ids, _l("Publishing to %(network)s is not available.", network=work.network)
        )
    if work.channel_status != ChannelStatus.CONNECTED.value:
        return _fail(
            claim, ids, _l("The channel %(name)s is not connected.", name=work.channel_name)
        )
    connector = _connector_for(
        work.network,
        claim.channel_id,
        decrypted_settings(work.settings, work.credentials_encrypted),
        claim,
    )
    assert connector is not None
    outgoing = build_outgoing(work, claim)
    missing = [m.path.name for m in outgoing.media if not m.path.is_file()]
    if missing:
        return _fail(
            claim, ids, _l("An image of this post is missing: %(files)s", files=", ".join(missing))
        )
    is_reply = work.kind == PostKind.REPLY.value
    if is_reply and not outgoing.reply_to:
        return _fail(claim, ids, _l("This reply has no inbox item to answer."))
    channel_id, channel_name = claim.channel_id, work.channel_name
    db.session.rollback()  # no transaction (and no lock) across the network call
    error = None
    refreshed = False
    while True:
        try:
            published = _send(connector, outgoing, claim, is_reply)
            status = engine.record_success(claim, published.external_id, published.url)
            _maybe_notify(ids[0], status)
            return "published"
        except PublishError as exc:
            error = exc
        except engine.Superseded:
            return "skipped"  # a newer text's attempt owns the target: nothing was sent
        except Exception as exc:  # a transport error the connector did not classify itself
            error = connector.classify(exc)
        if error.error_class == ErrorClass.AUTH_EXPIRED and not refreshed:
            refreshed = True
            if _refresh(connector, channel_id):
                continue
        break
    return _handle_error(claim, ids, error, channel_id, channel_name)


def _send(connector: Connector, outgoing: Outgoing, claim: engine.Claim, reply: bool) -> Published:
    if claim.reconcile_first:
        # The last attempt died mid-call: it may have posted. Look before sending again.
        found = connector.find_existing(outgoing)
        if found is not None:
            return found
    problems = connector.validate(outgoing)  # the network would refuse it: fail, do not send
    if problems:
        raise PublishError(ErrorClass.PERMANENT, " ".join(problems))
    try:
        return connector.publish_reply(outgoing) if reply else connector.publish(outgoing)
    except PublishError as exc:
        if exc.error_class != ErrorClass.UNKNOWN_OUTCOME:
            raise
        try:
            found = connector.find_existing(outgoing)
        except PublishError as lookup:
            if lookup.error_class in (ErrorClass.PERMANENT, ErrorClass.AUTH_EXPIRED):
                raise  # the network refused it (or us): no point sending again
            raise PublishError(
                ErrorClass.RETRYABLE, exc.message, retry_after=lookup.retry_after
            ) from exc
        if found is not None:
            return found
        # Not there: safe to send again, with the same idempotency key / record key.
        raise PublishError(ErrorClass.RETRYABLE, exc.message) from exc


def _refresh(connector: Connector, channel_id: uuid.UUID) -> bool:
    """One refresh of the credentials, stored encrypted at once; False when not possible."""
    try:
        secrets = connector.refresh_credentials()
    except PublishError:
        return False
    if not secrets:
        return False
    channel = db.session.scalar(select(Channel).where(Channel.id == channel_id))
    stored = crypto.decrypt_json(channel.credentials_encrypted)
    channel.credentials_encrypted = crypto.encrypt_json({**stored, **secrets})
    db.session.commit()
    connector.settings = {**connector.settings, **secrets}
    return True


def _handle_error(
    claim: engine.Claim,
    ids: tuple[uuid.UUID, uuid.UUID],
    error: PublishError,
    channel_id: uuid.UUID,
    channel_name: str,
) -> str:
    settings = current_app.config["REGIA"]
    if error.error_class == ErrorClass.AUTH_EXPIRED:
        message = _l(
            "%(channel)s needs reconnecting: the network refused its credentials (%(error)s). "
            "Reconnect the channel, then retry.",
            channel=channel_name,
            error=error.message,
        )
        if service.mark_needs_reconnect(channel_id, error.message):
            db.session.commit()
            notices.channel_needs_reconnect(channel_id, error.message)
        return _fail(claim, ids, message)
    if error.error_class == ErrorClass.PERMANENT:
        return _fail(claim, ids, error.message)
    if claim.attempt >= settings.publish_max_attempts:
        return _fail(
            claim,
            ids,
            lazy_ngettext(
                "%(error)s (gave up after %(num)d attempt)",
                "%(error)s (gave up after %(num)d attempts)",
                claim.attempt,
                error=error.message,
            ),
        )
    policy = outbound_retry.RetryPolicy(
        max_attempts=settings.publish_max_attempts,
        base_seconds=float(settings.publish_retry_base_seconds),
    )
    at = utcnow() + timedelta(seconds=policy.delay(claim.attempt, hint=error.retry_after))
    job_id = service.publish_job_id(claim.target_id, claim.revision, claim.attempt)
    if engine.record_retry(claim, error.message, at, job_id):
        service.enqueue_publish(ids[1], claim.target_id, claim.revision, at, attempt=claim.attempt)
    return "retry"


def _fail(claim: engine.Claim, ids: tuple[uuid.UUID, uuid.UUID], message: object) -> str:
    """``message``: the network's own words, or ours (lazy) stored in the agency's language,
    as the channel health check stores its reason: read by the agency's people."""
    db.session.rollback()
    locale = db.session.scalar(select(Agency.default_locale).where(Agency.id == ids[1]))
    with force_locale(locale or "en"):
        text = str(message)
    db.session.rollback()  # the outcome's transaction takes its lock first
    status = engine.record_failure(claim, text)
    _maybe_notify(ids[0], status)
    return "failed"


def _maybe_notify(post_id: uuid.UUID, status: str | None) -> None:
    """The failure e-mail, once the automatic channels have all ended and one failed: also
    while a manual channel still waits to be published by hand (which may take days)."""
    if status in (PostStatus.FAILED.value, PostStatus.PARTIALLY_PUBLISHED.value) or (
        status == PostStatus.PUBLISHING.value and service.failed_with_only_hand_left(post_id)
    ):
        notices.publishing_failed(post_id)


# -- inbound ---------------------------------------------------------------------------------


@job
def sync_inbound(agency_id: uuid.UUID | None, channel_id: str) -> int:
    """Fetch the channel's new comments and mentions into the inbox; how many were new.

    Items are unique per (agency, channel, external id): a page fetched twice adds nothing.
    """
    channel = db.session.scalar(select(Channel).where(Channel.id == uuid.UUID(channel_id)))
    if channel is None or channel.status != ChannelStatus.CONNECTED.value:
        return 0
    connector = _connector(channel)
    if connector is None or not connector.supports_inbound:
        return 0
    sync = db.session.scalar(select(ChannelSync).where(ChannelSync.channel_id == channel.id))
    if sync is None:
        sync = ChannelSync(id=uuid.uuid4(), channel_id=channel.id)
        db.session.add(sync)
        db.session.commit()
    cursor, client_id, channel_pk = sync.cursor, channel.client_id, channel.id
    db.session.rollback()
    try:
        items, next_cursor = connector.fetch_inbound(cursor)
    except PublishError as exc:
        sync = db.session.scalar(select(ChannelSync).where(ChannelSync.channel_id == channel_pk))
        sync.last_error, sync.last_synced_at = exc.message, utcnow()
        if exc.error_class == ErrorClass.AUTH_EXPIRED and service.mark_needs_reconnect(
            channel_pk, exc.message
        ):
            db.session.commit()
            notices.channel_needs_reconnect(channel_pk, exc.message)
        db.session.commit()
        return 0
    insert = pg_insert if db.is_postgresql else sqlite_insert
    created = 0
    for item in items:
        author = (
            f"{item.author_name} (@{item.author_handle})"
            if item.author_name
            else f"@{item.author_handle}"
        )
        statement = (
            insert(InboxItem)
            .values(
                id=uuid.uuid4(),
                agency_id=agency_id,
                created_at=utcnow(),
                client_id=client_id,
                channel_id=channel_pk,
                external_id=item.external_id[:300],
                author=author[:300],
                body=item.text,
                url=item.url,
                status="open",
                received_at=aware(item.received_at),
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["agency_id", "channel_id", "external_id"])
            .returning(InboxItem.id)
        )
        created += db.session.execute(statement).first() is not None
    sync = db.session.scalar(select(ChannelSync).where(ChannelSync.channel_id == channel_pk))
    sync.cursor = next_cursor or cursor
    sync.last_synced_at, sync.last_error = utcnow(), None
    db.session.commit()
    return created
