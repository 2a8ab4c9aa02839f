"""The least a publish job can do, for ``bench/publish_throughput.py --floor`` (issue #9).

``minimal_publish`` is not Regia's publish job: it is a lower bound for any publish job that
keeps DESIGN.md §7's promises, run by the same workers as the real one and the no-op jobs.
It does only what no implementation can skip:

1. claim the target in a committed transaction *before* the network call (otherwise a second
   worker, or a retry after a crash, could publish it again), reading the approved text in
   that same transaction;
2. one ``POST /api/v1/statuses`` to the fake Mastodon through the shared outbound client,
   with the ``Idempotency-Key`` header;
3. record the outcome in a second committed transaction.

It leaves out what Regia's job does on top and the issue also asks for: the idempotency key
and checkpoint row, the usage row for billing, the post's aggregated status, the audit
event, the channel's credentials (decrypted), the error classes and retries. Every statement
goes through the tenant-scoped ORM session under RLS, as DESIGN.md §3 requires. If even this
floor stays below the target ratio, no publish job that keeps those promises can meet it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, select, update

from agency.jobs import job


@job
def minimal_publish(agency_id: uuid.UUID | None, target_id: str, base_url: str, token: str) -> str:
    from agency import outbound
    from agency.content.models import Post, PostTarget, Revision, TargetStatus
    from agency.db import db, utcnow

    target = uuid.UUID(target_id)
    claimed = db.session.execute(
        update(PostTarget)
        .where(
            PostTarget.id == target,
            PostTarget.status.in_([TargetStatus.PENDING.value, TargetStatus.SCHEDULED.value]),
        )
        .values(status=TargetStatus.PUBLISHING.value, attempts=PostTarget.attempts + 1)
        .returning(PostTarget.post_id)
    ).first()
    if claimed is None:
        db.session.rollback()
        return "skipped"
    text = db.session.scalar(
        select(Revision.body)
        .join(
            Post,
            and_(
                Post.agency_id == Revision.agency_id,
                Post.id == Revision.post_id,
                Post.revision == Revision.number,
            ),
        )
        .where(Post.id == claimed.post_id)
    )
    db.session.commit()

    response = outbound.shared_client().post(
        f"{base_url}/api/v1/statuses",
        json={"status": text, "visibility": "public"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"floor-{target_id}"},
    )
    response.raise_for_status()
    status = response.json()
    db.session.execute(
        update(PostTarget)
        .where(PostTarget.id == target)
        .values(
            status=TargetStatus.PUBLISHED.value,
            external_id=str(status["id"]),
            external_url=status.get("url"),
            published_at=utcnow(),
        )
    )
    return "published"  # the job wrapper commits
