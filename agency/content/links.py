"""Magic-link review (DESIGN.md §6): a client manager approves, asks for changes or comments
from an e-mailed link, without a password; every action is recorded as made ``via link``.

A link belongs to one client manager and one client. It answers 403 once revoked, 410 once
expired, and only ever shows or touches that client's posts awaiting that person.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from agency.content.models import Post, PostStatus, ReviewLink, aware
from agency.db import db, utcnow
from agency.errors import DomainError, NotFound, PermissionDenied
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany, Role, User
from tenants.permissions import Access
from tenants.service import load_access

LINK_TTL = timedelta(days=7)


class LinkExpired(DomainError):
    http_status = 410


@dataclass(frozen=True)
class Reviewer:
    """Who a valid link stands for: the client manager's access, the client, the link."""

    access: Access
    client: ClientCompany
    link: ReviewLink


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def link_url(token: str) -> str:
    return f"{current_app.config['REGIA'].base_url}/review/{token}"


def issue_link(client: ClientCompany, user: User) -> str:
    """A new link for ``user`` (a client manager of ``client``); the caller commits."""
    secret = secrets.token_urlsafe(32)
    db.session.add(
        ReviewLink(
            client_id=client.id,
            user_id=user.id,
            token_hash=_hash(secret),
            expires_at=utcnow() + LINK_TTL,
        )
    )
    return f"{client.agency_id.hex}.{secret}"


def revoke_client_links(access: Access, client: ClientCompany, *, via: str = "web") -> int:
    """Revoke every live review link of ``client`` (owners, managers); commits; how many."""
    from agency import audit
    from agency.clients.service import require_manage

    require_manage(access, client.id)
    now = utcnow()
    live = db.session.scalars(
        select(ReviewLink).where(ReviewLink.client_id == client.id, ReviewLink.revoked_at.is_(None))
    ).all()
    for link in live:
        link.revoked_at = now
    audit.record_by(
        access, "review_links.revoked", subject_type="client", subject_id=client.id,
        client_id=client.id, via=via, count=len(live),
    )  # fmt: skip
    db.session.commit()
    return len(live)


def agency_of_token(token: str) -> uuid.UUID:
    """The agency a token names (NotFound for anything malformed)."""
    agency_hex, _sep, secret = token.partition(".")
    try:
        agency_id = uuid.UUID(hex=agency_hex)
    except ValueError as exc:
        raise NotFound(_("This link is not valid.")) from exc
    if not secret or len(token) > 200:
        raise NotFound(_("This link is not valid."))
    return agency_id


def resolve(token: str) -> Reviewer:
    """The reviewer a link stands for; call inside ``tenant_context(agency_of_token(token))``.

    NotFound (unknown), PermissionDenied (revoked, or no longer a client manager) or
    LinkExpired (410).
    """
    secret = token.partition(".")[2]
    link = db.session.scalar(select(ReviewLink).where(ReviewLink.token_hash == _hash(secret)))
    if link is None:
        raise NotFound(_("This link is not valid."))
    if link.revoked_at is not None:
        raise PermissionDenied(_("This link was revoked. Ask the agency for a new one."))
    if aware(link.expires_at) <= utcnow():
        raise LinkExpired(_("This link has expired. Ask the agency for a new one."))
    user = db.session.scalar(select(User).where(User.id == link.user_id))
    agency = db.session.scalar(select(Agency).where(Agency.id == link.agency_id))
    access = load_access(user, agency) if user and agency else None
    if access is None or access.client_roles.get(link.client_id) != Role.CLIENT_MANAGER:
        raise PermissionDenied(_("This link no longer works for you."))
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == link.client_id))
    return Reviewer(access=access, client=client, link=link)


def reviewer_post(reviewer: Reviewer, post_id: uuid.UUID) -> Post:
    """A post of the link's client (NotFound for any other, whoever could see it)."""
    from agency.content.service import get_post

    post = get_post(reviewer.access, post_id)
    if post.client_id != reviewer.client.id:
        raise NotFound(_("No such post."))
    return post


def waiting_posts(reviewer: Reviewer) -> list[Post]:
    """Posts of the link's client awaiting the client's decision, soonest first."""
    return list(
        db.session.scalars(
            select(Post)
            .where(
                Post.client_id == reviewer.client.id,
                Post.status == PostStatus.AWAITING_CLIENT.value,
            )
            .order_by(Post.scheduled_at.asc().nulls_last(), Post.created_at)
        )
    )


def links_for_review(post: Post, approver_ids: frozenset[uuid.UUID]) -> list[tuple[User, str]]:
    """A fresh link for each approver of ``post`` (the caller commits, then e-mails them)."""
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == post.client_id))
    users = db.session.scalars(select(User).where(User.id.in_(approver_ids))).all()
    with tenant_context(post.agency_id):
        return [(user, issue_link(client, user)) for user in users]
