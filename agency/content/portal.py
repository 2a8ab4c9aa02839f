"""The client portal's home (issue 8): what a client user of this agency sees first.

Only client roles land here (an agency member gets the agency dashboard). Everything comes
through the client view of ``access``: posts already sent to the client, at the revision last
sent, shared comments only; never another client, a draft in between or an internal note.
A constant number of queries, whatever the number of posts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from agency.content import access as seen
from agency.content import calendar as cal
from agency.content import queries
from agency.content.forms import STATUS_LABELS
from agency.content.models import Comment, Post, PostStatus, Visibility, aware
from agency.db import db
from tenants.models import ClientCompany, Role, User
from tenants.permissions import Access

RECENT = 5
PUBLISHED = (PostStatus.PUBLISHED.value, PostStatus.PARTIALLY_PUBLISHED.value)


def is_portal_user(access: Access) -> bool:
    """A user with client roles only in this agency: they get the portal, not the desk."""
    return access.agency_role is None and bool(access.client_roles)


@dataclass
class PortalHome:
    clients: list[ClientCompany]
    approver: bool  # a client manager of at least one of these clients
    waiting: list[dict]
    week: list[cal.Day]
    timezone: str
    comments: list[dict] = field(default_factory=list)
    published: list[dict] = field(default_factory=list)

    def zone(self, client_id: object) -> str:
        """The time zone a row of this client is shown in (its client's)."""
        return next((c.timezone for c in self.clients if c.id == client_id), self.timezone)


def portal_home(access: Access, local_today: Callable[[str], date]) -> PortalHome:
    """``local_today(timezone)``: today's date there (the week shown is the client's)."""
    clients = list(
        db.session.scalars(
            select(ClientCompany)
            .where(ClientCompany.id.in_(set(access.client_roles)))
            .order_by(ClientCompany.name, ClientCompany.id)
        )
    )
    approver = Role.CLIENT_MANAGER in access.client_roles.values()
    timezone = clients[0].timezone if clients else access.agency.timezone
    start, end = cal.period("week", local_today(timezone))
    return PortalHome(
        clients=clients,
        approver=approver,
        waiting=_waiting(access, approver),
        week=cal.calendar_days(access, start, end, timezone, brief=True),
        timezone=timezone,
        comments=_shared_comments(access),
        published=_published(access),
    )


def _waiting(access: Access, approver: bool) -> list[dict]:
    """Managers: what waits for their own approval. Viewers: what waits for their company's."""
    if approver:
        return [
            p for p in queries.waiting_on(access) if p["status"] == PostStatus.AWAITING_CLIENT.value
        ]
    stmt = (
        queries.visible_posts(access)
        .where(Post.status == PostStatus.AWAITING_CLIENT.value)
        .order_by(Post.scheduled_at.asc().nulls_last(), Post.created_at, Post.id)
        .limit(queries.MAX_PAGE_SIZE)
    )
    return queries.present_rows(access, db.session.execute(stmt).all())


def _shared_comments(access: Access) -> list[dict]:
    stmt = (
        select(Comment, User.name, Post.client_id)
        .join(Post, and_(Post.agency_id == Comment.agency_id, Post.id == Comment.post_id))
        .outerjoin(User, User.id == Comment.author_id)
        .where(seen.visible_filter(access), Comment.visibility == Visibility.SHARED.value)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(RECENT)
    )
    return [
        {
            "post_id": c.post_id,
            "client_id": client_id,
            "author_name": name,
            "body": c.body,
            "created_at": aware(c.created_at),
        }
        for c, name, client_id in db.session.execute(stmt)
    ]


def _published(access: Access) -> list[dict]:
    stmt = (
        queries.visible_posts(access)
        .where(Post.status.in_(PUBLISHED))
        .order_by(Post.updated_at.desc(), Post.id.desc())
        .limit(RECENT)
    )
    return queries.present_rows(access, db.session.execute(stmt).all())


# How a client reads a post's state: the agency's names, except that internal steps and
# agency jargon are not shown (one name per state for everyone otherwise).
_REVISING = _l("Being revised by the agency")
CLIENT_STATUS_LABELS = {
    **STATUS_LABELS,
    "draft": _REVISING,
    "in_review": _REVISING,
    "changes_requested": _REVISING,
    "failed": _l("Publishing delayed"),
    "archived": _l("Withdrawn"),
}
# The states a client filters by (their posts never show them the agency's drafting steps).
CLIENT_FILTER_STATUSES = (
    "awaiting_client", "approved", "scheduled", "published", "partially_published", "rejected",
)  # fmt: skip


def status_names(access: Access) -> dict[str, str]:
    """Post states as this user reads them, translated once (not once a row of a list)."""
    labels = CLIENT_STATUS_LABELS if is_portal_user(access) else STATUS_LABELS
    return {k: str(v) for k, v in labels.items()}


def status_choices(access: Access, names: dict[str, str] | None = None) -> dict[str, str]:
    """Status filter choices: a client user picks among the states they see, in their words
    (``names``: this user's ``status_names``, if the caller has them already)."""
    names = status_names(access) if names is None else names
    if is_portal_user(access):
        return {k: names[k] for k in CLIENT_FILTER_STATUSES}
    return names
