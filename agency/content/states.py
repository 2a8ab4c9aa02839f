"""The post state machine (DESIGN.md §6): which status may follow which, what each user
action may start from, why a refused action is refused, and ``move``, the one place a
post's status changes (recorded in the audit log)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from agency import audit
from agency.content.models import Post, PostStatus
from agency.db import utcnow
from agency.errors import IllegalTransition
from tenants.permissions import Access

S = PostStatus
REVIEW = frozenset({S.IN_REVIEW, S.AWAITING_CLIENT})
# Posts a network refused (all or some targets): editable, the published targets kept.
REFUSED = frozenset({S.FAILED, S.PARTIALLY_PUBLISHED})

# The state graph: every status change goes through move, which refuses any other edge.
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

# A refused action in words: where the post is now, and what that means for the action.
STATE_NOW = {
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
        state=STATE_NOW[status],
        refused=_REFUSED[action],
    )


def require_action(post: Post, action: str) -> None:
    if PostStatus(post.status) not in ACTIONS[action]:
        raise IllegalTransition(conflict_message(PostStatus(post.status), action))


def record(
    access: Access, post: Post, action: str, via: str, *, shared: bool = False, **data
) -> None:  # noqa: ANN003
    """An audit event about ``post`` (``shared``: the client sees it in the activity)."""
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


def move(access: Access, post: Post, new: PostStatus, via: str) -> None:
    """``post`` to status ``new`` along an edge of the graph (IllegalTransition otherwise)."""
    old = PostStatus(post.status)
    if new not in EDGES[old]:
        raise IllegalTransition(conflict_message(old, "move"))
    if new == old:
        return
    post.status = new.value
    post.updated_at = utcnow()
    shared = new in CLIENT_FACING and post.client_revision is not None
    record(
        access, post, "post.status_changed", via, shared=shared,
        old=old.value, new=new.value, revision=post.revision,
    )  # fmt: skip
