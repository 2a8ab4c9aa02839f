"""The publishing engine's SQL statements, prebuilt once per dialect.

Claims and outcomes run once per publication and building a statement costs more Python
than running it, so ``engine`` and ``post_status`` execute these with plain parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import JSON, Text, bindparam, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agency.channels.models import Channel
from agency.content.models import Post, PostTarget, Revision, TargetStatus
from agency.db import db
from agency.publishing.models import PublishState
from tenants.models import ClientCompany

T = TargetStatus


@dataclass(frozen=True)
class Queries:
    """The statements, one field each (see ``queries_for``)."""

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
def queries_for(postgresql: bool) -> Queries:
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
    return Queries(
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


def queries() -> Queries:
    """The statements for the database in use."""
    return queries_for(db.is_postgresql)
