"""A post's review link sent again: a client approver whose link expired or was revoked has
nothing left to open until the agency e-mails a new one."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _

from agency.content import notify, service
from agency.content.decisions import live_decisions
from agency.content.models import PostStatus, Step
from agency.content.policy import awaiting_client_policy
from agency.content.states import STATE_NOW, S, record
from agency.errors import IllegalTransition
from tenants.permissions import Access, Permission


@service.atomic
def resend_review_link(access: Access, post_id: uuid.UUID, *, via: str = "web") -> int:
    """A post awaiting the client: a new review link e-mailed to each client approver who has
    not approved it yet (an expired or revoked link leaves them nothing to open); how many."""
    post = service.get_post(access, post_id, lock=True)
    service.require_permission(access, Permission.DRAFT_CONTENT, post.client_id)
    if post.status != S.AWAITING_CLIENT.value:
        raise IllegalTransition(
            _(
                "%(state)s Only a post waiting for the client's approval has a review link to "
                "send again.",
                state=STATE_NOW[PostStatus(post.status)],
            )
        )
    policy = awaiting_client_policy(service.client_of(post.client_id), post.kind)
    waiting = policy.approver_ids - live_decisions(post, Step.CLIENT)
    if not waiting:
        raise IllegalTransition(
            _("This client has no client manager to approve it: invite one or change the policy.")
        )
    notify.request_review(post, frozenset(waiting), resent=True)
    record(access, post, "post.review_link_resent", via, revision=post.revision, count=len(waiting))
    notify.commit()
    return len(waiting)
