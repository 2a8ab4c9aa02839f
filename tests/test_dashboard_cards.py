"""The agency dashboard per role: overdue approvals and this week's schedule, each member
seeing only the posts they may see; finance, who sees no content, gets neither card."""

from __future__ import annotations

import uuid
from datetime import timedelta

from agency.content.models import Post
from agency.db import db, utcnow
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.factories import make_channel


def _overdue(desk, post_id: str) -> None:  # noqa: ANN001
    with tenant_context(desk.ids["agency"]):
        db.session.get(Post, uuid.UUID(post_id)).approval_deadline = utcnow() - timedelta(hours=3)
        db.session.commit()


def _dashboard(client, auth, desk, who: str) -> str:  # noqa: ANN001
    auth.login(desk.users[who].email)
    html = client.get(f"/a/{desk.agency.slug}/").get_data(as_text=True)
    auth.logout()
    return html


def _section(html: str, marker: str) -> str:
    return html.split(marker, 1)[1].split("</section>", 1)[0] if marker in html else ""


def test_overdue_approvals_and_the_week_show_to_those_who_see_the_post(client, auth, database_url):
    desk = make_desk()
    soon = (utcnow() + timedelta(minutes=30)).isoformat()
    late = draft(client, desk, body="Late approval post", scheduled_at=soon)
    act(client, desk, late["id"], "submit", "staff")
    _overdue(desk, late["id"])
    on_time = draft(client, desk, body="Not late post")
    act(client, desk, on_time["id"], "submit", "staff")
    make_channel(desk.agency, desk.other_client, name="Other toots 2")

    for who in ("owner", "manager", "staff"):
        html = _dashboard(client, auth, desk, who)
        overdue = _section(html, 'id="overdue-heading"')
        assert "Late approval post" in overdue and "Not late post" not in overdue, who
        if utcnow().date() == (utcnow() + timedelta(minutes=30)).date():
            assert "Late approval post" in _section(html, 'id="week-heading"'), who

    html = _dashboard(client, auth, desk, "other_staff")  # assigned to another client
    assert 'id="overdue-heading"' in html and "Late approval post" not in html
    html = _dashboard(client, auth, desk, "finance")
    assert 'id="overdue-heading"' not in html and 'id="week-heading"' not in html
