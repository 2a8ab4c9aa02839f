"""Decisions on a post under review (DESIGN.md §6): approve, request changes or reject the
current revision at its step (internal review or the client's), one by one or in bulk."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select

from agency.content import access as seen
from agency.content import approval, notify, service
from agency.content.models import Approval, Decision, Post, Step
from agency.content.policy import awaiting_client_policy, effective_policy
from agency.content.states import S, move, record, require_action
from agency.db import db
from agency.errors import (
    DomainError,
    IllegalTransition,
    PermissionDenied,
    ValidationFailed,
    describe,
)
from tenants.permissions import Access, Permission


@service.atomic
def decide(
    access: Access,
    post_id: uuid.UUID,
    decision: Decision,
    *,
    comment: str | None = None,
    revision: int | None = None,
    via: str = "api",
) -> Post:
    """Approve, request changes or reject the current revision at the post's review step."""
    post = service.get_post(access, post_id, lock=True)
    client_side = not seen.agency_view(access, post.client_id)
    if client_side and post.status != S.AWAITING_CLIENT:
        raise IllegalTransition(_("This post is not awaiting your approval."))
    require_action(post, decision.value)
    step = Step.INTERNAL if post.status == S.IN_REVIEW else Step.CLIENT
    client = service.client_of(post.client_id)
    # A post already sent to the client stays theirs to decide, whatever the policy says now.
    policy = (awaiting_client_policy if step == Step.CLIENT else effective_policy)(
        client, post.kind
    )
    if step == Step.INTERNAL:
        service.require_permission(access, Permission.INTERNAL_REVIEW, post.client_id)
    else:
        service.require_permission(access, Permission.CLIENT_APPROVAL, post.client_id)
        if access.user.id not in policy.approver_ids:
            raise PermissionDenied(_("You are not an approver of this client."))
    if revision is not None and revision != post.revision:
        raise IllegalTransition(
            _("The post changed since you saw it: review revision %(n)d.", n=post.revision)
        )
    comment = (comment or "").strip() or None
    if decision != Decision.APPROVE and not comment:
        raise ValidationFailed({"comment": [_("Say what should change, or why.")]})
    rev = service.current_revision(post)
    live = live_decisions(post, step)
    if access.user.id in live:
        raise IllegalTransition(_("You already decided on this revision."))
    db.session.add(
        Approval(
            post_id=post.id, revision_id=rev.id, revision_number=rev.number,
            user_id=access.user.id, step=step.value, decision=decision.value,
            via=via, comment=comment,
        )
    )  # fmt: skip
    record(
        access, post, "post.decided", via, shared=step == Step.CLIENT,
        step=step.value, decision=decision.value, revision=rev.number,
        hash=rev.content_hash, comment=comment,
    )  # fmt: skip
    if decision == Decision.REQUEST_CHANGES:
        move(access, post, S.CHANGES_REQUESTED, via)
        notify.tell([post.created_by_id], "changes_requested", post, access.user.name, comment)
    elif decision == Decision.REJECT:
        move(access, post, S.REJECTED, via)
        notify.tell([post.created_by_id], "rejected", post, access.user.name, comment)
    elif step == Step.INTERNAL:
        if policy.needs_client:
            approval.send_to_client(access, post, policy, via)
        else:
            approval.approve(access, post, policy, via, comment)
    elif policy.client_step_complete({*live, access.user.id}):
        approval.approve(access, post, policy, via, comment)
    notify.commit()
    return post


def live_decisions(post: Post, step: Step) -> set[uuid.UUID]:
    """Users who approved the current revision at ``step`` in this round."""
    return set(
        db.session.scalars(
            select(Approval.user_id).where(
                Approval.post_id == post.id,
                Approval.revision_number == post.revision,
                Approval.step == step.value,
                Approval.decision == Decision.APPROVE.value,
                Approval.voided_at.is_(None),
            )
        )
    )


def approve_many(
    access: Access, choices: list[tuple[uuid.UUID, int]], *, via: str = "web"
) -> tuple[int, list[str]]:
    """Bulk approve (post id, revision seen) pairs, each on its own; (approved, problems)."""
    done, problems = 0, []
    for post_id, revision in choices:
        try:
            decide(access, post_id, Decision.APPROVE, revision=revision, via=via)
            done += 1
        except DomainError as exc:  # reported per post; the others still go through
            problems.append(describe(exc))  # its messages: a ValidationFailed says only "failed"
    return done, problems
