"""The agency dashboard's content cards: overdue approvals and this week's schedule.

Both read through ``visible_posts`` (the member's own view of the posts) in a constant number
of queries; the waiting list and the turnaround chart live in queries.py and stats.py.
"""

from __future__ import annotations

from datetime import date, datetime

from agency.content import calendar as cal
from agency.content import queries
from agency.content.models import Post, PostStatus
from agency.db import db
from tenants.permissions import Access, Permission

OVERDUE_LIMIT = 10
UNDECIDED = (PostStatus.IN_REVIEW.value, PostStatus.AWAITING_CLIENT.value)


def overdue_approvals(access: Access, now: datetime) -> list[dict] | None:
    """Posts still undecided after their approval deadline, most overdue first (None: no
    content for this member)."""
    if not access.can(Permission.SEE_CONTENT):
        return None
    stmt = (
        queries.visible_summaries(access)
        .where(Post.status.in_(UNDECIDED), Post.approval_deadline < now)
        .order_by(Post.approval_deadline, Post.id)
        .limit(OVERDUE_LIMIT)
    )
    return [queries.summary(row) for row in db.session.execute(stmt)]


def week_schedule(access: Access, today: date, timezone: str) -> list[cal.Day] | None:
    """The days of this week that have posts scheduled (None: no content for this member)."""
    if not access.can(Permission.SEE_CONTENT):
        return None
    start, end = cal.period("week", today)
    return [d for d in cal.calendar_days(access, start, end, timezone, brief=True) if d.posts]
