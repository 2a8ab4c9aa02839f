"""E-mails the workflow sends, queued only once the change that caused them is committed.

A rolled-back transition must not have told anyone anything: the service adds pending mails
to the session, ``commit()`` sends them after the commit succeeds, ``discard()`` drops them.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from agency.content import links
from agency.content.models import Post
from agency.db import db, utcnow
from agency.notifications import service as inapp
from agency.notifications.models import Event
from tenants.models import Agency, ClientCompany

log = logging.getLogger(__name__)
_PENDING = "regia_pending_workflow_mail"


@dataclass(frozen=True)
class _ReviewRequest:
    email: str
    name: str
    locale: str | None
    token: str
    agency_id: uuid.UUID
    client_id: uuid.UUID
    scheduled_at: datetime | None
    approval_deadline: datetime | None
    excerpt: str = ""
    reminder: bool = False


EXCERPT = 120


def excerpt_of(post: Post) -> str:
    """The current text's opening, on one line: what an e-mail names the post by."""
    from agency.content.models import Revision

    body = db.session.scalar(
        select(Revision.body).where(Revision.post_id == post.id, Revision.number == post.revision)
    )
    text = " ".join((body or "").split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1].rstrip() + "…"


def request_review(
    post: Post,
    approver_ids: frozenset[uuid.UUID],
    *,
    reminder: bool = False,
    resent: bool = False,
) -> None:
    """Each approver gets a fresh magic link by e-mail once this transaction commits, and an
    in-app notification written in it (a reminder says the deadline is near). ``resent``:
    the agency sends the link again; the mail reads as a reminder."""
    inapp.add(approver_ids, Event.DEADLINE_NEAR if reminder else Event.SUBMITTED, post)
    reminder = reminder or resent
    pending = db.session.info.setdefault(_PENDING, [])
    excerpt = excerpt_of(post)
    for user, token in links.links_for_review(post, approver_ids):
        pending.append(
            _ReviewRequest(
                user.email,
                user.name,
                user.locale,
                token,
                post.agency_id,
                post.client_id,
                post.scheduled_at,
                post.approval_deadline,
                excerpt,
                reminder,
            )  # fmt: skip
        )


@dataclass(frozen=True)
class _Update:
    user_id: uuid.UUID
    event: str  # mentioned | changes_requested | approved | rejected | held_late | approved_late
    agency_id: uuid.UUID
    post_id: uuid.UUID
    actor: str
    comment: str | None
    client_id: uuid.UUID | None = None
    excerpt: str = ""


def tell(user_ids, event: str, post: Post, actor: str, comment: str | None = None) -> None:  # noqa: ANN001
    """E-mail these members about ``event`` on ``post`` once this transaction commits; their
    in-app notifications are written in the transaction itself."""
    user_ids = list(user_ids)
    inapp.add(user_ids, Event(event), post, actor, comment)
    pending = db.session.info.setdefault(_PENDING, [])
    excerpt = excerpt_of(post)
    for user_id in dict.fromkeys(u for u in user_ids if u is not None):
        pending.append(
            _Update(
                user_id, event, post.agency_id, post.id, actor, comment, post.client_id, excerpt
            )
        )


def agency_reviewers(post: Post) -> list[uuid.UUID]:
    """The agency's owners and managers (active)."""
    from tenants.models import Membership, Role

    return list(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.agency_id == post.agency_id,
                Membership.client_id.is_(None),
                Membership.active.is_(True),
                Membership.role.in_([Role.OWNER.value, Role.MANAGER.value]),
            )
        )
    )


def internal_review(post: Post, actor_id: uuid.UUID) -> None:
    """In-app only: the agency's reviewers (owners, managers) learn a post waits for them."""
    inapp.add([u for u in agency_reviewers(post) if u != actor_id], Event.SUBMITTED, post)


@dataclass(frozen=True)
class _Reminder:
    agency_id: uuid.UUID
    post_id: uuid.UUID
    revision: int
    at: datetime


def schedule_reminders(post: Post, deadline: datetime | None, hours: tuple[int, ...]) -> None:
    """Remind the approvers ``hours`` before the deadline, if still undecided by then."""
    if deadline is None:
        return
    pending = db.session.info.setdefault(_PENDING, [])
    for h in hours:
        at = deadline - timedelta(hours=h)
        if at > utcnow():
            pending.append(_Reminder(post.agency_id, post.id, post.revision, at))


def discard() -> None:
    db.session.info.pop(_PENDING, None)


def commit() -> None:
    """Commit the session, then queue the mails the committed change calls for."""
    pending = db.session.info.pop(_PENDING, [])
    db.session.commit()
    for mail in pending:
        try:
            if isinstance(mail, _Update):
                _send_update(mail)
            elif isinstance(mail, _Reminder):
                _enqueue_reminder(mail)
            else:
                _send_review_request(mail)
        except Exception:  # a mail queue outage must not undo or fail a committed decision
            # Never log the mail itself: a review request carries a magic-link token.
            log.exception("could not queue a workflow mail (%s)", type(mail).__name__)


def _client(agency_id: uuid.UUID, client_id: uuid.UUID | None) -> ClientCompany | None:
    from tenants.context import tenant_context

    if client_id is None:
        return None
    with tenant_context(agency_id):
        return db.session.scalar(select(ClientCompany).where(ClientCompany.id == client_id))


def _send_review_request(mail: _ReviewRequest) -> None:
    from agency.mail.service import in_language, render_mail, send_mail

    agency = db.session.scalar(select(Agency).where(Agency.id == mail.agency_id))
    client = _client(mail.agency_id, mail.client_id)
    locale = mail.locale or (client.language if client else None) or agency.default_locale
    deadline = mail.approval_deadline
    rendered = render_mail(
        "content/email/review_request",
        locale,
        name=mail.name,
        agency_name=agency.name,
        client_name=client.name if client else "",
        excerpt=mail.excerpt,
        reminder=mail.reminder,
        scheduled=mail.scheduled_at,
        deadline=deadline,
        # A deadline already past is not asked for: the mail says the post is overdue.
        overdue=deadline is not None and _aware(deadline) <= utcnow(),
        timezone=client.timezone if client else agency.timezone,  # the client's, as on its pages
        link=in_language(links.link_url(mail.token), locale),  # opens in the mail's language
        expires_at=utcnow() + links.LINK_TTL,
        logo_cid=None,
    )
    send_mail(mail.email, rendered.subject, rendered.text, rendered.html)


def _send_update(mail: _Update) -> None:
    from agency.mail.service import in_language, render_mail, send_mail
    from tenants.models import User

    user = db.session.scalar(select(User).where(User.id == mail.user_id))
    agency = db.session.scalar(select(Agency).where(Agency.id == mail.agency_id))
    if user is None or not user.active or agency is None:
        return
    base = current_app.config["REGIA"].base_url
    client = _client(mail.agency_id, mail.client_id)
    locale = user.locale or agency.default_locale
    rendered = render_mail(
        "content/email/update",
        locale,
        event=mail.event,
        name=user.name,
        actor=mail.actor,
        comment=mail.comment,
        client_name=client.name if client else "",
        excerpt=mail.excerpt,
        agency_name=agency.name,
        link=in_language(f"{base}/a/{agency.slug}/posts/{mail.post_id}", locale),
        logo_cid=None,
    )
    send_mail(user.email, rendered.subject, rendered.text, rendered.html)


def _aware(when: datetime) -> datetime:
    from agency.content.models import aware

    return aware(when)


def _enqueue_reminder(reminder: _Reminder) -> None:
    from agency.content.jobs import remind_approvers
    from agency.jobs import queue

    # A deterministic id: the same reminder scheduled twice is one job.
    queue("mail").enqueue_at(
        reminder.at,
        remind_approvers,
        str(reminder.agency_id),
        str(reminder.post_id),
        reminder.revision,
        job_id=f"remind-{reminder.post_id}-{reminder.revision}-{int(reminder.at.timestamp())}",
    )
