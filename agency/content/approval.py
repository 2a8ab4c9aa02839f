"""A review round (DESIGN.md §6): entering it at the first step the client's policy asks for,
sending the post to the client, approving it (and what the late rule then does), and
scheduling the approved revision. Callers hold the post's row lock and commit."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select, update

from agency.content import notify
from agency.content.models import Approval, Post, PostKind, PostTarget, TargetStatus, aware
from agency.content.policy import EffectivePolicy
from agency.content.states import S, move, record
from agency.db import db, utcnow
from agency.errors import IllegalTransition
from agency.workflow.models import LateRule
from tenants.permissions import Access


def _void_decisions(post: Post) -> None:
    db.session.execute(
        update(Approval)
        .where(Approval.post_id == post.id, Approval.voided_at.is_(None))
        .values(voided_at=utcnow())
    )


def enter_review(access: Access, post: Post, policy: EffectivePolicy, via: str) -> None:
    """Start a review round of the current revision: the first step the policy asks for."""
    _void_decisions(post)
    post.approved_revision = None
    post.submitted_at = utcnow()
    post.approval_deadline = policy.deadline(aware(post.scheduled_at))
    if policy.internal_review:
        move(access, post, S.IN_REVIEW, via)
        notify.internal_review(post, access.user.id)
    elif policy.needs_client:
        send_to_client(access, post, policy, via)
    else:
        approve(access, post, policy, via)


def send_to_client(access: Access, post: Post, policy: EffectivePolicy, via: str) -> None:
    """The client's step: the post shown to them, its approvers e-mailed and reminded."""
    if not policy.approver_ids:
        raise IllegalTransition(
            _("This client has no client manager to approve it: invite one or change the policy.")
        )
    _show_to_client(post)
    move(access, post, S.AWAITING_CLIENT, via)
    notify.request_review(post, policy.approver_ids)
    notify.schedule_reminders(post, aware(post.approval_deadline), policy.reminder_hours)


def _show_to_client(post: Post) -> None:
    post.client_revision = post.revision
    if post.revision not in (post.shown_revisions or []):
        post.shown_revisions = [*(post.shown_revisions or []), post.revision]


def approve(
    access: Access, post: Post, policy: EffectivePolicy, via: str, comment: str | None = None
) -> None:
    """The current revision approved, then scheduled if it has a time (a reply without one goes
    out at once), unless the late rule holds it."""
    post.approved_revision = post.revision
    _show_to_client(post)
    move(access, post, S.APPROVED, via)
    late = post.scheduled_at is not None and is_late(post, policy)
    rule = policy.late_rule if late else None
    if rule in (LateRule.HOLD.value, LateRule.NOTIFY.value):
        # The author, owners and managers hear that it came late (and what that did).
        event = "held_late" if rule == LateRule.HOLD.value else "approved_late"
        notify.tell(_agency_side_of(post, access.user.id), event, post, access.user.name, comment)
    elif post.created_by_id != access.user.id:
        notify.tell([post.created_by_id], "approved", post, access.user.name, comment)
    if post.scheduled_at is None and post.kind == PostKind.REPLY.value:
        # Replies are time-critical: one approved without a time goes out at once.
        post.scheduled_at = utcnow()
        schedule(access, post, via)
        return
    if post.scheduled_at is None:
        return
    if rule == LateRule.HOLD.value:
        # Approved, not scheduled: the agency decides what to do with the time.
        record(access, post, "post.late_held", via, shared=True, revision=post.revision)
        return
    if rule == LateRule.NOTIFY.value:
        record(access, post, "post.approved_late", via, shared=True, revision=post.revision)
    schedule(access, post, via)


def is_late(post: Post, policy: EffectivePolicy) -> bool:
    """Approved after its approval deadline (a policy that asks for an approval), or after
    its publishing time."""
    now = utcnow()
    if post.scheduled_at is not None and aware(post.scheduled_at) <= now:
        return True
    asks = policy.internal_review or policy.needs_client
    deadline = aware(post.approval_deadline) if post.approval_deadline is not None else None
    return asks and deadline is not None and deadline < now


def approval_outcome(post: Post) -> str | None:
    """What an approval just did, if it came late: ``held`` (approved with a time but not
    scheduled: the hold rule) or ``late`` (scheduled after its deadline passed)."""
    if post.approved_revision != post.revision or post.scheduled_at is None:
        return None
    if post.status == S.APPROVED.value:
        return "held"
    deadline = post.approval_deadline
    if post.status == S.SCHEDULED.value and deadline is not None and aware(deadline) < utcnow():
        return "late"
    return None


def _agency_side_of(post: Post, actor_id: uuid.UUID) -> list[uuid.UUID]:
    """Who at the agency hears about a late approval: the post's author and the owners and
    managers (not the approver themself)."""
    ids = [post.created_by_id, *notify.agency_reviewers(post)]
    return [i for i in dict.fromkeys(ids) if i is not None and i != actor_id]


def schedule(access: Access, post: Post, via: str) -> None:
    """approved → scheduled; only ever the approved revision (publishing reads it)."""
    if post.approved_revision != post.revision or post.scheduled_at is None:
        raise IllegalTransition(_("Only the approved revision of a post can be scheduled."))
    move(access, post, S.SCHEDULED, via)
    for target in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id)):
        # A target that already went out (a fixed, partially published post) is not sent
        # again: only the others are scheduled, and only they get a publish job.
        if target.status != TargetStatus.PUBLISHED.value:
            target.status = TargetStatus.SCHEDULED.value
    from agency.publishing import service as publishing

    publishing.on_scheduled(post)  # a publish job per target, once this commits
