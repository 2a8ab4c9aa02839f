"""Calendar of scheduled posts (DESIGN.md §6): a week or a month, per client or across clients.

Days are the agency's (or the filtered client's) local days, and each post sits on its own
client's local day at its own client's time (read in the same statement), marked with that
zone where it is not the page's; a page costs the same number of queries however many posts
it shows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from agency.content import access as seen
from agency.content.models import Post, PostStatus, PostTarget, Revision, aware
from agency.content.queries import present_rows, summary, visible_posts, visible_summaries
from agency.db import db
from agency.localtime import zone_of
from tenants.models import ClientCompany
from tenants.permissions import Access

MAX_POSTS = 2000  # a month of a busy agency; more is a filter's job


@dataclass(frozen=True)
class Day:
    day: date
    posts: list[dict]


def client_choices(access: Access) -> list:
    """Every client this user sees, as (id, name, timezone) rows in ``list_clients``'s order:
    the client filters of the calendar and the posts list, which also read each post's client
    name and time zone from them. Plain rows, not whole client entities; all of them, however
    many the agency has (a post of a client left out would show no client and the wrong
    zone)."""
    stmt = select(ClientCompany.id, ClientCompany.name, ClientCompany.timezone).order_by(
        ClientCompany.name, ClientCompany.id
    )
    visible = access.visible_client_ids()
    if visible is not None:
        stmt = stmt.where(ClientCompany.id.in_(visible))
    return list(db.session.execute(stmt))


def period(view: str, anchor: date) -> tuple[date, date]:
    """First day and the day after the last, of the week (from Monday) or month of ``anchor``."""
    if view == "month":
        start = anchor.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return start, end
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7)


def calendar_days(
    access: Access,
    start: date,
    end: date,
    timezone: str,
    *,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    channel_id: uuid.UUID | None = None,
    brief: bool = False,
) -> list[Day]:
    """Every day from ``start`` to ``end`` (excluded) with the posts scheduled that day;
    ``brief``: posts as ``queries.summary`` dicts (no targets), for pages that show no more."""
    seen.require_see_content(access)
    zone = zone_of(timezone)
    # A day's margin either side: a post of a client in another zone may fall on one of the
    # period's days there though not here; its own local day decides below.
    lower = datetime.combine(start, time.min, zone) - timedelta(days=1)
    upper = datetime.combine(end, time.min, zone) + timedelta(days=1)
    stmt = (
        (visible_summaries(access) if brief else visible_posts(access))
        .where(Revision.scheduled_at >= lower, Revision.scheduled_at < upper)
        .where(Post.status != PostStatus.ARCHIVED.value)
        .order_by(Revision.scheduled_at, Post.id)
        .limit(MAX_POSTS)
    )
    if client_id is not None:
        stmt = stmt.where(Post.client_id == client_id)
    if status in set(PostStatus):
        stmt = stmt.where(Post.status == status)
    if channel_id is not None:  # in SQL: before the limit, and without loading any target
        stmt = stmt.where(
            select(PostTarget.id)
            .where(
                PostTarget.agency_id == Post.agency_id,
                PostTarget.post_id == Post.id,
                PostTarget.channel_id == channel_id,
            )
            .exists()
        )
    rows = db.session.execute(stmt).all()
    posts = [summary(row) for row in rows] if brief else present_rows(access, rows)
    by_day: dict[date, list[dict]] = {}
    for post in posts:
        own = zone_of(post.get("timezone") or timezone)  # the client's (brief rows carry it)
        local = aware(post["scheduled_at"]).astimezone(own)
        if not start <= local.date() < end:
            continue
        post["zone_marked"] = own.key != zone.key
        # The zone is named where the page's would be wrong: another client's zone.
        post["local_time"] = local.strftime("%H:%M") + (
            f" {local.tzname()}" if post["zone_marked"] else ""
        )
        by_day.setdefault(local.date(), []).append(post)
    days = []
    current = start
    while current < end:
        days.append(Day(current, by_day.get(current, [])))
        current += timedelta(days=1)
    return days


def marks_zones(days: list[Day]) -> bool:
    """Does any post of ``days`` show a zone other than the page's (its time is marked)?"""
    return any(post.get("zone_marked") for day in days for post in day.posts)
