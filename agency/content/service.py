"""Posts' lifecycle (DESIGN.md §6): loading a post, creating and editing it, submitting and
archiving it. The state graph is in ``states``, a review round in ``approval``, decisions in
``decisions``.

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
from sqlalchemy import select

from agency.channels.models import Channel
from agency.content import access as seen
from agency.content import editing, notify
from agency.content.approval import enter_review
from agency.content.models import Post, PostKind, PostStatus, PostTarget, Revision, TargetStatus
from agency.content.policy import effective_policy
from agency.content.states import S, move, record, require_action
from agency.db import db
from agency.errors import PermissionDenied, ValidationFailed
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

P = ParamSpec("P")
R = TypeVar("R")


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


# -- loading and guards -------------------------------------------------------------------


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


def client_of(client_id: uuid.UUID) -> ClientCompany:
    """The post's client company (the caller already saw the post)."""
    return db.session.scalars(select(ClientCompany).where(ClientCompany.id == client_id)).one()


def require_permission(access: Access, permission: Permission, client_id: uuid.UUID) -> None:
    """PermissionDenied unless ``access`` holds ``permission`` for that client."""
    if not access.can(permission, client_id):
        raise PermissionDenied(_("Your role does not allow this."))


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
    require_permission(access, Permission.DRAFT_CONTENT, client.id)
    content = editing.validate_content(client, editing.merge_content(None, data), set(data))
    post = Post(
        id=uuid.uuid4(), client_id=client.id, kind=kind, status=S.DRAFT.value, revision=1,
        shown_revisions=[], created_by_id=access.user.id,
    )  # fmt: skip
    db.session.add(post)
    rev = editing.add_revision(access, post, content)
    record(access, post, "post.created", via, revision=1, hash=rev.content_hash, kind=kind)
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
    require_permission(access, Permission.DRAFT_CONTENT, client.id)
    rev = current_revision(get_post(access, post_id)) if post_id is not None else None
    editing.validate_content(client, editing.merge_content(rev, data), set(data))


@atomic
def update_post(
    access: Access, post_id: uuid.UUID, data: Mapping[str, object], *, via: str = "api"
) -> Post:
    """Apply a content change as a new revision; after approval it goes back for approval."""
    post = get_post(access, post_id, lock=True)
    require_permission(access, Permission.DRAFT_CONTENT, post.client_id)
    require_action(post, "edit")
    client = client_of(post.client_id)
    rev = current_revision(post)
    content = editing.validate_content(client, editing.merge_content(rev, data), set(data))
    if editing.content_hash(content) == rev.content_hash:
        db.session.rollback()
        return get_post(access, post_id)
    if PostStatus(post.status) == S.PARTIALLY_PUBLISHED:
        _keep_published_targets(post, content)
    post.revision += 1
    new = editing.add_revision(access, post, content)
    record(access, post, "post.revised", via, revision=post.revision, hash=new.content_hash)
    status = PostStatus(post.status)
    if status in (S.DRAFT, S.CHANGES_REQUESTED):
        move(access, post, S.DRAFT, via)
    else:
        # Approvals were for the old text: void them and start the review again.
        enter_review(access, post, effective_policy(client, post.kind), via)
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


@atomic
def submit(access: Access, post_id: uuid.UUID, *, via: str = "api", commit: bool = True) -> Post:
    """draft → the policy's first step, after the networks' limits are checked (422)."""
    post = get_post(access, post_id, lock=True)
    require_permission(access, Permission.DRAFT_CONTENT, post.client_id)
    require_action(post, "submit")
    editing.check_limits(current_revision(post), reply=post.kind == PostKind.REPLY.value)
    client = client_of(post.client_id)
    record(access, post, "post.submitted", via, revision=post.revision)
    enter_review(access, post, effective_policy(client, post.kind), via)
    if commit:
        notify.commit()
    return post


@atomic
def archive(
    access: Access, post_id: uuid.UUID, *, comment: str | None = None, via: str = "api"
) -> Post:
    post = get_post(access, post_id, lock=True)
    require_permission(access, Permission.DRAFT_CONTENT, post.client_id)
    require_action(post, "archive")
    move(access, post, S.ARCHIVED, via)
    db.session.commit()
    return post
