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
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from agency import audit
from agency.channels.models import Channel
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
from agency.content.policy import EffectivePolicy, awaiting_client_policy, effective_policy
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
# Posts a network refused (all or some targets): editable, the published targets kept.
REFUSED = frozenset({S.FAILED, S.PARTIALLY_PUBLISHED})

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
    # A refused post is fixed by an edit: a new revision goes through the approval again.
    S.PARTIALLY_PUBLISHED: frozenset(
        {S.PUBLISHING, S.IN_REVIEW, S.AWAITING_CLIENT, S.APPROVED, S.SCHEDULED, S.ARCHIVED}
    ),
    S.FAILED: frozenset(
        {S.PUBLISHING, S.IN_REVIEW, S.AWAITING_CLIENT, S.APPROVED, S.SCHEDULED, S.ARCHIVED}
    ),
    S.REJECTED: frozenset({S.ARCHIVED}),
    S.ARCHIVED: frozenset(),
}

# What each user action may start from.
ACTIONS: dict[str, frozenset[PostStatus]] = {
    "edit": frozenset({S.DRAFT, S.CHANGES_REQUESTED, *REVIEW, S.APPROVED, S.SCHEDULED, *REFUSED}),
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


# A refused action in words: where the post is now, and what that means for the action.
_STATE_NOW = {
    S.DRAFT: _l("This post is still a draft: it has not been submitted yet."),
    S.IN_REVIEW: _l("This post was already submitted and is in internal review."),
    S.AWAITING_CLIENT: _l("This post was already sent to the client."),
    S.APPROVED: _l("This post is already approved."),
    S.SCHEDULED: _l("This post is already approved and scheduled."),
    S.PUBLISHING: _l("This post is being published right now."),
    S.PUBLISHED: _l("This post is already published."),
    S.PARTIALLY_PUBLISHED: _l("This post is already published on some of its channels."),
    S.FAILED: _l("The networks refused this post."),
    S.CHANGES_REQUESTED: _l("Changes were requested on this post."),
    S.REJECTED: _l("This post was rejected."),
    S.ARCHIVED: _l("This post is archived."),
}
_REFUSED = {
    "edit": _l("It can no longer be edited."),
    "submit": _l("It cannot be submitted now."),
    "approve": _l("It is not waiting for an approval."),
    "request_changes": _l("It is not waiting for a decision."),
    "reject": _l("It is not waiting for a decision."),
    "archive": _l("It cannot be archived now."),
    "move": _l("This step is not possible from there."),
}


def conflict_message(status: PostStatus, action: str) -> str:
    """Why ``action`` is refused for a post in ``status``, as a person reads it."""
    return _(
        "%(state)s %(refused)s Reload the page to see it as it is now.",
        state=_STATE_NOW[status],
        refused=_REFUSED[action],
    )


def _require_action(post: Post, action: str) -> None:
    if PostStatus(post.status) not in ACTIONS[action]:
        raise IllegalTransition(conflict_message(PostStatus(post.status), action))


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
    if PostStatus(post.status) == S.PARTIALLY_PUBLISHED:
        _keep_published_targets(post, content)
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


def _keep_published_targets(post: Post, content: Mapping[str, object]) -> None:
    """A channel the post already went out on stays a target: its publication is on record
    (and billed), and it is not sent again (``schedule`` leaves published targets alone)."""
    kept = {str(c) for c in content["channel_ids"]}  # type: ignore[union-attr]
    gone = db.session.scalars(
        select(Channel.name)
        .join(PostTarget, PostTarget.channel_id == Channel.id)
        .where(
            PostTarget.post_id == post.id,
            PostTarget.status == TargetStatus.PUBLISHED.value,
            Channel.id.not_in([uuid.UUID(c) for c in kept]),
        )
    ).all()
    if gone:
        raise ValidationFailed(
            {
                "channel_ids": [
                    _(
                        "%(channel)s already published this post: it stays a channel of it "
                        "(it will not be published there again).",
                        channel=name,
                    )
                    for name in gone
                ]
            }
        )


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
        raise IllegalTransition(conflict_message(old, "move"))
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


def _approve(
    access: Access, post: Post, policy: EffectivePolicy, via: str, comment: str | None = None
) -> None:
    post.approved_revision = post.revision
    _show_to_client(post)
    _move(access, post, S.APPROVED, via)
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
        _record(access, post, "post.late_held", via, shared=True, revision=post.revision)
        return
    if rule == LateRule.NOTIFY.value:
        _record(access, post, "post.approved_late", via, shared=True, revision=post.revision)
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
    _move(access, post, S.SCHEDULED, via)
    for target in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id)):
        # A target that already went out (a fixed, partially published post) is not sent
        # again: only the others are scheduled, and only they get a publish job.
        if target.status != TargetStatus.PUBLISHED.value:
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
    client = _client_of(post.client_id)
    # A post already sent to the client stays theirs to decide, whatever the policy says now.
    policy = (awaiting_client_policy if step == Step.CLIENT else effective_policy)(
        client, post.kind
    )
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
            _approve(access, post, policy, via, comment)
    elif policy.client_step_complete({*live, access.user.id}):
        _approve(access, post, policy, via, comment)
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
def resend_review_link(access: Access, post_id: uuid.UUID, *, via: str = "web") -> int:
    """A post awaiting the client: a new review link e-mailed to each client approver who has
    not approved it yet (an expired or revoked link leaves them nothing to open); how many."""
    post = get_post(access, post_id, lock=True)
    _require(access, Permission.DRAFT_CONTENT, post.client_id)
    if post.status != S.AWAITING_CLIENT.value:
        raise IllegalTransition(
            _(
                "%(state)s Only a post waiting for the client's approval has a review link to "
                "send again.",
                state=_STATE_NOW[PostStatus(post.status)],
            )
        )
    policy = awaiting_client_policy(_client_of(post.client_id), post.kind)
    waiting = policy.approver_ids - _live_decisions(post, Step.CLIENT)
    if not waiting:
        raise IllegalTransition(
            _("This client has no client manager to approve it: invite one or change the policy.")
        )
    notify.request_review(post, frozenset(waiting), resent=True)
    _record(
        access, post, "post.review_link_resent", via, revision=post.revision, count=len(waiting)
    )
    notify.commit()
    return len(waiting)


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
