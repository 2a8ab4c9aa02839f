"""E-mails the engine sends: a post failed (wholly or on some channels), a channel needs
reconnecting, a post is due to be published by hand. Sent to the agency's owners and managers
(and the post's author), queued on the ``mail`` queue after the change is committed; a mail
outage never undoes an outcome. A failure and a due post are in-app notifications too."""

from __future__ import annotations

import logging
import uuid

from flask import current_app
from sqlalchemy import select

from agency.channels.models import Channel, Network
from agency.content.models import Post, PostTarget, TargetStatus
from agency.db import db
from agency.notifications import service as inapp
from agency.notifications.models import Event
from tenants.models import Agency, ClientCompany, Membership, Role, User

log = logging.getLogger(__name__)


def recipients(agency_id: uuid.UUID, extra: uuid.UUID | None = None) -> list[User]:
    """The agency's active owners and managers, and ``extra`` (the post's author)."""
    members = select(Membership.user_id).where(
        Membership.agency_id == agency_id,
        Membership.client_id.is_(None),
        Membership.active.is_(True),
        Membership.role.in_([Role.OWNER.value, Role.MANAGER.value]),
    )
    ids = set(db.session.scalars(members))
    if extra is not None:
        ids.add(extra)
    users = db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.email))
    return [u for u in users if u.active]


def _send(template: str, agency: Agency, users: list[User], **context: object) -> None:
    from agency.mail.service import in_language, render_mail, send_mail

    for user in users:
        try:
            locale = user.locale or agency.default_locale
            # The link opens the page in the mail's language.
            mine = {**context, "link": in_language(str(context["link"]), locale)}
            rendered = render_mail(
                template, locale, name=user.name, agency_name=agency.name, logo_cid=None, **mine,
            )  # fmt: skip
            send_mail(
                user.email, rendered.subject, rendered.text, rendered.html, agency_id=agency.id
            )
        except Exception:
            log.exception("could not queue a publishing notice (%s)", template)


def _about_post(post_id: uuid.UUID) -> tuple[Post, Agency, str, str] | None:
    """What a mail about a post names: the post, its agency, its client's name and the link
    to the post's page (None: the post is gone)."""
    post = db.session.scalar(select(Post).where(Post.id == post_id))
    if post is None:
        return None
    agency = db.session.scalar(select(Agency).where(Agency.id == post.agency_id))
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == post.client_id))
    base = current_app.config["REGIA"].base_url
    link = f"{base}/a/{agency.slug}/posts/{post.id}"
    return post, agency, client.name if client else "", link


def publishing_failed(post_id: uuid.UUID) -> None:
    """Tell the agency which channels failed and why, with a link straight to the post."""
    about = _about_post(post_id)
    if about is None:
        return
    post, agency, client_name, link = about
    failures = db.session.execute(
        select(Channel.name, PostTarget.last_error)
        .join(Channel, Channel.id == PostTarget.channel_id)
        .where(PostTarget.post_id == post.id, PostTarget.status == TargetStatus.FAILED.value)
        .order_by(Channel.name)
    ).all()
    by_hand = db.session.scalars(
        select(Channel.name)
        .join(PostTarget, PostTarget.channel_id == Channel.id)
        .where(
            PostTarget.post_id == post.id,
            Channel.network == Network.MANUAL.value,
            PostTarget.status != TargetStatus.PUBLISHED.value,
        )
        .order_by(Channel.name)
    ).all()
    users = recipients(agency.id, post.created_by_id)
    try:  # in-app too, beside the e-mail (the outcome is already committed)
        inapp.add([u.id for u in users], Event.PUBLISHING_FAILED, post)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not write the publishing failure notifications")
    _send(
        "publishing/email/failed", agency, users,
        status=post.status, client_name=client_name,
        failures=[(name, error or "") for name, error in failures], by_hand=by_hand, link=link,
    )  # fmt: skip


def channel_needs_reconnect(channel_id: uuid.UUID, error: str) -> None:
    channel = db.session.scalar(select(Channel).where(Channel.id == channel_id))
    if channel is None:
        return
    agency = db.session.scalar(select(Agency).where(Agency.id == channel.agency_id))
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == channel.client_id))
    base = current_app.config["REGIA"].base_url
    _send(
        "publishing/email/reconnect", agency, recipients(agency.id),
        channel_name=channel.name, client_name=client.name if client else "", error=error,
        link=f"{base}/a/{agency.slug}/clients/{channel.client_id}/channels/{channel.id}/edit",
    )  # fmt: skip


def due_by_hand(post_id: uuid.UUID, channels: list[str]) -> None:
    """The post's time has come and these manual channels wait for someone to publish it."""
    about = _about_post(post_id)
    if about is None:
        return
    post, agency, client_name, link = about
    _send(
        "publishing/email/due_by_hand", agency, recipients(agency.id, post.created_by_id),
        client_name=client_name, channels=channels, link=link,
    )  # fmt: skip
