"""Times of a client's posts read in the client's time zone, on every page and in the mails.

Bellavista is in Los Angeles (UTC-7 in June), Other Co in Tokyo (UTC+9): a time shown in UTC,
or in the wrong client's zone, is a different wall-clock hour and fails the assertions.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from agency.content.models import Post
from agency.db import db
from agency.localtime import local_time
from agency.notifications.models import Notification
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.helpers import page_as

LA, TOKYO = "America/Los_Angeles", "Asia/Tokyo"
SCHEDULED = "2031-06-01T16:30:00+00:00"  # 09:30 in Los Angeles, 01:30 next day in Tokyo
LINK_RE = re.compile(r"https?://\S+/review/([^\s?]+)")


def _wall(moment: datetime, zone: str) -> str:
    """The expected text, computed here without the code under test (naive: UTC)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _utc(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def world(smtp, database_url):
    """Bellavista's post sent to its client managers (mailed a link), Other Co's post waiting
    for internal review; both scheduled at the same instant."""
    desk = make_desk()
    with tenant_context(desk.ids["agency"]):
        desk.client.timezone = LA
        desk.other_client.timezone = TOKYO
        db.session.commit()
    http = smtp.client
    post = draft(http, desk, body="Summer menu is here", scheduled_at=SCHEDULED)
    act(http, desk, post["id"], "submit", "staff")
    assert act(http, desk, post["id"], "approve", "manager").get_json()["status"] == (
        "awaiting_client"
    )
    other = draft(
        http, desk, "other_staff", client_id=desk.ids["other_client"],
        channel_ids=[desk.ids["other_channel"]], body="Tokyo launch", scheduled_at=SCHEDULED,
    )  # fmt: skip
    act(http, desk, other["id"], "submit", "other_staff")
    with tenant_context(desk.ids["agency"]):
        rows = {
            str(p.id): p
            for p in db.session.scalars(
                select(Post).where(Post.id.in_([uuid.UUID(post["id"]), uuid.UUID(other["id"])]))
            )
        }
        times = {
            "scheduled": rows[post["id"]].scheduled_at,
            "deadline": rows[post["id"]].approval_deadline,
            "other_deadline": rows[other["id"]].approval_deadline,
        }
    return desk, http, post, other, times


def _page(smtp, desk, who: str, path: str) -> str:  # noqa: ANN001
    return page_as(smtp.app, desk.users[who], path)


def test_local_time_names_the_zone_and_takes_naive_values_as_utc():
    moment = datetime(2031, 12, 5, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert local_time(moment, "Europe/Rome") == "2031-12-05 18:00 CET"
    assert local_time(moment.replace(tzinfo=None), "Europe/Rome", named=False) == "2031-12-05 18:00"
    assert local_time(moment, "No/Such_Zone") == "2031-12-05 17:00 UTC"
    assert local_time(None, LA) == ""


def test_the_approval_mail_and_the_magic_link_page_show_the_clients_time(world, smtp):
    desk, http, post, _other, times = world
    scheduled, deadline = times["scheduled"], times["deadline"]
    assert _wall(scheduled, LA) == "2031-06-01 09:30"
    mails = [m for m in smtp.messages if m["To"] == desk.users["cm"].email]
    assert mails
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    html = mails[0].get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert f"It is planned for {_wall(scheduled, LA)} ({LA})." in body
        assert f"Please decide by {_wall(deadline, LA)} ({LA})." in body
        assert "(UTC)" not in body and _utc(scheduled) not in body
    page = http.get(f"/review/{LINK_RE.search(text).group(1)}").get_data(as_text=True)
    assert f"planned for {_wall(scheduled, LA)} ({LA})" in page
    assert _utc(scheduled) not in page


def test_the_post_page_shows_publish_time_and_deadline_in_one_zone(world, smtp):
    desk, _http, post, _other, times = world
    path = f"/a/{desk.agency.slug}/posts/{post['id']}"
    for who in ("manager", "cm"):  # the agency's page and the client's
        html = _page(smtp, desk, who, path)
        assert f"Publish at {_wall(times['scheduled'], LA)}" in html
        assert f"Approval needed by {_wall(times['deadline'], LA)}" in html
        assert f"Times in {LA}." in html
        assert "UTC" not in html


def test_the_portal_home_and_the_client_queue_show_the_clients_time(world, smtp):
    desk, _http, _post, _other, times = world
    for path in (f"/a/{desk.agency.slug}/", f"/a/{desk.agency.slug}/posts/queue"):
        html = _page(smtp, desk, "cm", path)
        assert f"{_wall(times['scheduled'], LA)} PDT" in html
        assert f"{_wall(times['deadline'], LA)} PDT" in html
        assert "UTC" not in html


def test_pages_across_clients_show_each_row_in_its_own_clients_zone(world, smtp):
    desk, _http, _post, _other, times = world
    slug = desk.agency.slug
    tokyo_deadline = f"{_wall(times['other_deadline'], TOKYO)} JST"
    queue = _page(smtp, desk, "owner", f"/a/{slug}/posts/queue")
    assert tokyo_deadline in queue and f"{_wall(times['scheduled'], TOKYO)} JST" in queue
    dashboard = _page(smtp, desk, "owner", f"/a/{slug}/")
    assert f"by {tokyo_deadline}" in dashboard
    posts = _page(smtp, desk, "owner", f"/a/{slug}/posts/")
    assert f"{_wall(times['scheduled'], LA)} PDT" in posts
    assert f"{_wall(times['scheduled'], TOKYO)} JST" in posts
    for html in (queue, dashboard, posts):
        assert _utc(times["scheduled"]) not in html and _utc(times["other_deadline"]) not in html


def test_notifications_show_their_time_in_the_posts_clients_zone(world, smtp):
    desk, _http, _post, _other, _times = world
    with tenant_context(desk.ids["agency"]):
        sent = db.session.scalar(
            select(Notification.created_at).where(Notification.user_id == desk.users["cm"].id)
        )
    html = _page(smtp, desk, "cm", f"/a/{desk.agency.slug}/notifications/")
    sent = sent if sent.tzinfo else sent.replace(tzinfo=ZoneInfo("UTC"))
    assert sent.astimezone(ZoneInfo(LA)).strftime("%Y-%m-%d %H:%M %Z") in html  # PST or PDT
    assert " UTC" not in html  # the zone's name, never UTC


def test_italian_pages_show_the_clients_time_translated(world, smtp):
    desk, _http, post, _other, times = world
    with tenant_context(desk.ids["agency"]):
        desk.users["cm"].locale = "it"
        db.session.commit()
    html = _page(smtp, desk, "cm", f"/a/{desk.agency.slug}/posts/{post['id']}")
    assert f"Pubblicazione il {_wall(times['scheduled'], LA)}" in html
    assert f"Approvazione necessaria entro il {_wall(times['deadline'], LA)}" in html


def test_inbox_items_and_channel_checks_show_the_clients_time(world, smtp):
    from agency.channels.models import Channel
    from agency.content.models import InboxItem

    desk, http, _post, _other, _times = world
    received = datetime(2031, 1, 10, 20, 15, tzinfo=ZoneInfo("UTC"))  # 12:15 PST
    body = {"channel_id": desk.ids["mastodon"], "author": "@ann", "body": "Open on Sunday?"}
    assert http.post("/api/v1/inbox", json=body, headers=desk.h("staff")).status_code == 201
    with tenant_context(desk.ids["agency"]):
        db.session.execute(InboxItem.__table__.update().values(received_at=received))
        channel = db.session.get(Channel, uuid.UUID(desk.ids["mastodon"]))
        channel.status, channel.verified_at = "connected", received
        db.session.commit()
    inbox = _page(smtp, desk, "staff", f"/a/{desk.agency.slug}/inbox/")
    assert "2031-01-10 12:15 PST" in inbox and _utc(received) not in inbox
    channels = _page(
        smtp, desk, "owner", f"/a/{desk.agency.slug}/clients/{desk.ids['client']}/channels/"
    )
    assert "Checked 2031-01-10 12:15 PST" in channels and _utc(received) not in channels


def test_the_overdue_card_shows_the_deadline_in_the_posts_clients_zone(world, smtp):
    desk, _http, _post, other, _times = world
    due = datetime(2025, 3, 1, 22, 45, tzinfo=ZoneInfo("UTC"))  # 07:45 on 2 March in Tokyo
    with tenant_context(desk.ids["agency"]):
        row = db.session.get(Post, uuid.UUID(other["id"]))
        row.approval_deadline = due
        db.session.commit()
    html = _page(smtp, desk, "owner", f"/a/{desk.agency.slug}/")
    assert "was due 2025-03-02 07:45 JST" in html and _utc(due) not in html
