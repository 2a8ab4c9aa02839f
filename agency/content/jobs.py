"""Workflow jobs: reminders before the approval deadline (scheduled on the ``mail`` queue)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from agency.content import notify
from agency.content.models import Approval, Decision, Post, PostStatus, Step
from agency.content.policy import awaiting_client_policy
from agency.db import db
from agency.jobs import job
from tenants.models import ClientCompany


@job
def remind_approvers(agency_id: uuid.UUID | None, post_id: str, revision: int) -> int:
    """E-mail the approvers who have not yet decided on ``revision``; how many were reminded.

    Re-reads the post: nothing happens once it moved on or changed (safe to run twice: a second
    run sends the same reminder again, which is the reminder's nature, not a duplicate write).
    """
    post = db.session.scalar(select(Post).where(Post.id == uuid.UUID(post_id)))
    if post is None or post.status != PostStatus.AWAITING_CLIENT.value:
        return 0
    if post.revision != revision:
        return 0
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == post.client_id))
    decided = set(
        db.session.scalars(
            select(Approval.user_id).where(
                Approval.post_id == post.id,
                Approval.revision_number == revision,
                Approval.step == Step.CLIENT.value,
                Approval.decision == Decision.APPROVE.value,
                Approval.voided_at.is_(None),
            )
        )
    )
    waiting = awaiting_client_policy(client, post.kind).approver_ids - decided
    notify.request_review(post, frozenset(waiting), reminder=True)
    notify.commit()
    return len(waiting)
