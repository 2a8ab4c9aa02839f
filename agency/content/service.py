"""Posts and the approval workflow (DESIGN.md §6): content changes, the state machine, decisions.

Every change locks the post row (``SELECT ... FOR UPDATE`` on PostgreSQL) before reading its
state, so concurrent approvals and edits serialise: an approval names the revision it saw,
and an edit voids every decision on older revisions. Illegal moves raise IllegalTransition
(409) before anything is written.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping
from typing import ParamSpec, TypeVar

from flask_babel import gettext as _
from sqlalchemy import select, update

from agency import audit
from agency.content import access as seen
from agency.content import editing, notify
from agency.content.models import (
    Approval,
    Decision,
    Post,
    PostKind,
    PostStatus,
    PostTarget,
    Revision,
    Step,
    TargetStatus,
    aware,
)
from agency.content.policy import EffectivePolicy, effective_policy
from agency.db import db, utcnow
from agency.errors import (
    DomainError,
    IllegalTransition,
    PermissionDenied,
    ValidationFailed,
    describe,
)
from agency.workflow.models import LateRule
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

S = PostStatus
P = ParamSpec("P")
R = TypeVar("R")
REVIEW = frozenset({S.IN_REVIEW, S.AWAITING_CLIENT})

# The state graph: every status change goes through _move, which refuses any other edge.
EDGES: dict[PostStatus, frozenset[PostStatus]] = {
    S.DRAFT: frozenset(
        {S.DRAFT, S.IN_REVIEW, S.AWAITING_CLIENT, S.APPROVED, S.SCHEDULED, S.ARCHIVED}
    ),
    S.CHANGES_REQUESTED: frozenset({S.DRAFT, S.ARCHIVED}),
    S.IN_REVIEW: frozenset(
        {
            S.IN_REVIEW,
            S.AWAITING_CLIENT,
            S.APPROVED,
            S.SCHEDULED,
            S.CHANGES_REQUESTED,
            S.REJECTED,
            S.ARCHIVED,
        }
    ),  # fmt: skip
    S.AWAITING_CLIENT: frozenset(
        {
            S.IN_REVIEW,
            S.AWAITING_CLIENT,
            S.APPROVED,
            S.SCHEDULED,
            S.CHANGES_REQUESTED,
            S.REJECTED,
            S.ARCHIVED,
        }
    ),  # fmt: skip
    S.APPROVED: frozenset({S.IN_REVIEW, S.AWAITING_CLIENT, S.APPROVED, S.SCHEDULED, S.ARCHIVED}),
    S.SCHEDULED: frozenset(
        {S.IN_REVIEW, S.AWAITING_CLIENT, S.APPROVED, S.SCHEDULED, S.PUBLISHING, S.ARCHIVED}
    ),
    S.PUBLISHING: frozenset({S.PUBLISHED, S.PARTIALLY_PUBLISHED, S.FAILED}),
    S.PUBLISHED: frozenset({S.ARCHIVED}),
    S.PARTIALLY_PUBLISHED: frozenset({S.PUBLISHING, S.ARCHIVED}),
    S.FAILED: frozenset({S.PUBLISHING, S.ARCHIVED}),
    S.REJECTED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

# What each user action may start from.
ACTIONS: dict[str, frozenset[PostStatus]] = {
    "edit": frozenset({S.DRAFT, S.CHANGES_REQUESTED, *REVIEW, S.APPROVED, S.SCHEDULED}),
    "submit": frozenset({S.DRAFT}),
    "approve": REVIEW,
    "request_changes": REVIEW,
    "reject": REVIEW,
    "archive": frozenset(set(S) - {S.PUBLISHING, S.ARCHIVED}),
}
# Statuses the client sees happen (activity shared with them).
CLIENT_FACING = frozenset(
    {S.AWAITING_CLIENT, S.APPROVED, S.SCHEDULED, S.PUBLISHING, S.PUBLISHED,
     S.PARTIALLY_PUBLISHED, S.FAILED, S.REJECTED}
)  # fmt: skip


def atomic(fn: Callable[P, R]) -> Callable[P, R]:
    """Roll back on any error: a refused change leaves nothing pending in the session."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception:
            notify.discard()
            db.session.rollback()
            raise

    return wrapper


# -- loading ------------------------------------------------------------------------------


def get_post(access: Access, post_id: uuid.UUID, *, lock: bool = False) -> Post:
    """The post if this user may see it (NotFound otherwise, also for other agencies).

    ``lock`` takes the row lock every change needs, and re-reads the row under it.
    """
    seen.require_see_content(access)
    stmt = select(Post).where(Post.id == post_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    post = db.session.scalar(stmt)
    if post is None or not seen.may_see(access, post):
        raise seen.not_found()
    return post


def current_revision(post: Post) -> Revision:
    return db.session.scalars(
        select(Revision).where(Revision.post_id == post.id, Revision.number == post.revision)
    ).one()


def _client_of(client_id: uuid.UUID) -> ClientCompany:
    return db.session.scalars(select(ClientCompany).where(ClientCompany.id == client_id)).one()


def _require(access: Access, permission: Permission, client_id: uuid.UUID) -> None:
    if not access.can(permission, client_id):
        raise PermissionDenied(_("Your role does not allow this."))


def _require_action(post: Post, action: str) -> None:
    if PostStatus(post.status) not in ACTIONS[action]:
        raise IllegalTransition(
            _("A post that is %(status)s cannot be %(action)s.", status=post.status, action=action)
        )


@atomic
def create_post(
    access: Access,
    data: Mapping[str, object],
    *,
    kind: str = PostKind.POST.value,
    via: str = "api",
    commit: bool = True,
) -> Post:
    """A new draft (revision 1) for ``data['client_id']``; commits unless told not to."""
    from agency.clients.service import get_client

    client = get_client(access, uuid.UUID(str(data["client_id"])))
    _require(access, Permission.DRAFT_CONTENT, client.id)
    content = editing.validate_content(client, editing.merge_content(None, data), set(data))
    post = Post(
        id=uuid.uuid4(), client_id=client.id, kind=kind, status=S.DRAFT.value, revision=1,
        shown_revisions=[], created_by_id=access.user.id,
    )  # fmt: skip
    db.session.add(post)
    rev = editing.add_revision(access, post, content)
    _record(access, post, "post.created", via, revision=1, hash=rev.content_hash, kind=kind)
    if commit:
        db.session.commit()
    return post


def check_content(
    access: Access,
    client: ClientCompany,
    data: Mapping[str, object],
    *,
    post_id: uuid.UUID | None = None,
) -> None:
    """Raise the ValidationFailed ``create_post`` (or ``update_post`` of ``post_id``) would
    raise for ``data``, writing nothing: a form refused for another reason (a bad image) shows
    these errors with it, not one after the other."""
    _require(access, Permission.DRAFT_CONTENT, client.id)
    rev = current_revision(get_post(access, post_id)) if post_id is not None else None
    editing.validate_content(client, editing.merge_content(rev, data), set(data))


@atomic
def update_post(
    access: Access, post_id: uuid.UUID, data: Mapping[str, object], *, via: str = "api"
) -> Post:
    """Apply a content change as a new revision; after approval it goes back for approval."""
    post = get_post(access, post_id, lock=True)
    _require(access, Permission.DRAFT_CONTENT, post.client_id)
    _require_action(post, "edit")
    client = _client_of(post.client_id)
    rev = current_revision(post)
    content = editing.validate_content(client, editing.merge_content(rev, data), set(data))
    if editing.content_hash(content) == rev.content_hash:
        db.session.rollback()
        return get_post(access, post_id)
    post.revision += 1
    new = editing.add_revision(access, post, content)
    _record(access, post, "post.revised", via, revision=post.revision, hash=new.content_hash)
    status = PostStatus(post.status)
    if status in (S.DRAFT, S.CHANGES_REQUESTED):
        _move(access, post, S.DRAFT, via)
    else:
        # Approvals were for the old text: void them and start the review again.
        _enter_review(access, post, effective_policy(client, post.kind), via)
    notify.commit()
    return post


# -- transitions --------------------------------------------------------------------------


def _record(
    access: Access, post: Post, action: str, via: str, *, shared: bool = False, **data
) -> None:  # noqa: ANN003
    audit.record_by(
        access,
        action,
        subject_type="post",
        subject_id=post.id,
        client_id=post.client_id,
        via=via,
        shared=shared,
        **data,
    )


def _move(access: Access, post: Post, new: PostStatus, via: str) -> None:
    old = PostStatus(post.status)
    if new not in EDGES[old]:
        raise IllegalTransition(
            _("A post that is %(status)s cannot become %(new)s.", status=old.value, new=new.value)
        )
    if new == old:
        return
    post.status = new.value
    post.updated_at = utcnow()
    shared = new in CLIENT_FACING and post.client_revision is not None
    _record(
        access, post, "post.status_changed", via, shared=shared,
        old=old.value, new=new.value, revision=post.revision,
    )  # fmt: skip


def _void_decisions(post: Post) -> None:
    db.session.execute(
        update(Approval)
        .where(Approval.post_id == post.id, Approval.voided_at.is_(None))
        .values(voided_at=utcnow())
    )


def _enter_review(access: Access, post: Post, policy: EffectivePolicy, via: str) -> None:
    """Start a review round of the current revision: the first step the policy asks for."""
    _void_decisions(post)
    post.approved_revision = None
    post.submitted_at = utcnow()
    post.approval_deadline = policy.deadline(aware(post.scheduled_at))
    if policy.internal_review:
        _move(access, post, S.IN_REVIEW, via)
        notify.internal_review(post, access.user.id)
    elif policy.needs_client:
        _send_to_client(access, post, policy, via)
    else:
        _approve(access, post, policy, via)


def _send_to_client(access: Access, post: Post, policy: EffectivePolicy, via: str) -> None:
    if not policy.approver_ids:
        raise IllegalTransition(
            _("This client has no client manager to approve it: invite one or change the policy.")
        )
    _show_to_client(post)
    _move(access, post, S.AWAITING_CLIENT, via)
    notify.request_review(post, policy.approver_ids)
    notify.schedule_reminders(post, aware(post.approval_deadline), policy.reminder_hours)


def _show_to_client(post: Post) -> None:
    post.client_revision = post.revision
    if post.revision not in (post.shown_revisions or []):
        post.shown_revisions = [*(post.shown_revisions or []), post.revision]


def _approve(access: Access, post: Post, policy: EffectivePolicy, via: str) -> None:
    post.approved_revision = post.revision
    _show_to_client(post)
    _move(access, post, S.APPROVED, via)
    if post.created_by_id != access.user.id:
        notify.tell([post.created_by_id], "approved", post, access.user.name)
    if post.scheduled_at is None and post.kind == PostKind.REPLY.value:
        # Replies are time-critical: one approved without a time goes out at once.
        post.scheduled_at = utcnow()
        schedule(access, post, via)
        return
    if post.scheduled_at is None:
        return
    if aware(post.scheduled_at) <= utcnow() and policy.late_rule == LateRule.HOLD.value:
        _record(access, post, "post.late_held", via, shared=True, revision=post.revision)
        return
    schedule(access, post, via)


def schedule(access: Access, post: Post, via: str) -> None:
    """approved → scheduled; only ever the approved revision (publishing reads it)."""
    if post.approved_revision != post.revision or post.scheduled_at is None:
        raise IllegalTransition(_("Only the approved revision of a post can be scheduled."))
    _move(access, post, S.SCHEDULED, via)
    for target in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id)):
        target.status = TargetStatus.SCHEDULED.value
    from agency.publishing import service as publishing

    publishing.on_scheduled(post)  # a publish job per target, once this commits


@atomic
def submit(access: Access, post_id: uuid.UUID, *, via: str = "api", commit: bool = True) -> Post:
    """draft → the policy's first step, after the networks' limits are checked (422)."""
    post = get_post(access, post_id, lock=True)
    _require(access, Permission.DRAFT_CONTENT, post.client_id)
    _require_action(post, "submit")
    editing.check_limits(current_revision(post), reply=post.kind == PostKind.REPLY.value)
    client = _client_of(post.client_id)
    _record(access, post, "post.submitted", via, revision=post.revision)
    _enter_review(access, post, effective_policy(client, post.kind), via)
    if commit:
        notify.commit()
    return post


@atomic
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
    post = get_post(access, post_id, lock=True)
    client_side = not seen.agency_view(access, post.client_id)
    if client_side and post.status != S.AWAITING_CLIENT:
        raise IllegalTransition(_("This post is not awaiting your approval."))
    _require_action(post, decision.value)
    step = Step.INTERNAL if post.status == S.IN_REVIEW else Step.CLIENT
    policy = effective_policy(_client_of(post.client_id), post.kind)
    if step == Step.INTERNAL:
        _require(access, Permission.INTERNAL_REVIEW, post.client_id)
    else:
        _require(access, Permission.CLIENT_APPROVAL, post.client_id)
        if access.user.id not in policy.approver_ids:
            raise PermissionDenied(_("You are not an approver of this client."))
    if revision is not None and revision != post.revision:
        raise IllegalTransition(
            _("The post changed since you saw it: review revision %(n)d.", n=post.revision)
        )
    comment = (comment or "").strip() or None
    if decision != Decision.APPROVE and not comment:
        raise ValidationFailed({"comment": [_("Say what should change, or why.")]})
    rev = current_revision(post)
    live = _live_decisions(post, step)
    if access.user.id in live:
        raise IllegalTransition(_("You already decided on this revision."))
    db.session.add(
        Approval(
            post_id=post.id, revision_id=rev.id, revision_number=rev.number,
            user_id=access.user.id, step=step.value, decision=decision.value,
            via=via, comment=comment,
        )
    )  # fmt: skip
    _record(
        access, post, "post.decided", via, shared=step == Step.CLIENT,
        step=step.value, decision=decision.value, revision=rev.number,
        hash=rev.content_hash, comment=comment,
    )  # fmt: skip
    if decision == Decision.REQUEST_CHANGES:
        _move(access, post, S.CHANGES_REQUESTED, via)
        notify.tell([post.created_by_id], "changes_requested", post, access.user.name, comment)
    elif decision == Decision.REJECT:
        _move(access, post, S.REJECTED, via)
        notify.tell([post.created_by_id], "rejected", post, access.user.name, comment)
    elif step == Step.INTERNAL:
        if policy.needs_client:
            _send_to_client(access, post, policy, via)
        else:
            _approve(access, post, policy, via)
    elif policy.client_step_complete({*live, access.user.id}):
        _approve(access, post, policy, via)
    notify.commit()
    return post


def _live_decisions(post: Post, step: Step) -> set[uuid.UUID]:
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


@atomic
def archive(
    access: Access, post_id: uuid.UUID, *, comment: str | None = None, via: str = "api"
) -> Post:
    post = get_post(access, post_id, lock=True)
    _require(access, Permission.DRAFT_CONTENT, post.client_id)
    _require_action(post, "archive")
    _move(access, post, S.ARCHIVED, via)
    db.session.commit()
    return post


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
