"""The client portal's home, the agency dashboard and the notifications page cost a constant
number of SQL statements, whatever the number of posts (DESIGN.md §10)."""

from __future__ import annotations

from datetime import timedelta

from agency.db import utcnow
from tests.content_helpers import Desktop, make_desk
from tests.helpers import session_id_for
from tests.test_query_counts import _constant


def _grower(client, desk):  # noqa: ANN001, ANN202
    desktop = Desktop(desk)

    def grow(n: int) -> None:
        for i in range(n):
            when = (utcnow() + timedelta(hours=1, minutes=i)).isoformat()
            post = desktop.draft(body=f"Post {i}", scheduled_at=when)
            desktop.act(post["id"], "submit", "staff")
            desktop.act(post["id"], "approve", "manager")
            desktop.comment(post["id"], "staff", f"Shared {i}", "shared")

    return grow


def _as(app, desk, who: str):  # noqa: ANN001, ANN202
    web = app.test_client()
    with web.session_transaction() as session:
        session["_user_id"] = session_id_for(desk.users[who])
        session["_fresh"] = True
    return web


def test_portal_home_costs_the_same_for_few_or_many_posts(app, client, database_url):
    desk = make_desk()
    web = _as(app, desk, "cm")
    _constant(lambda: web.get(f"/a/{desk.agency.slug}/"), _grower(client, desk))


def test_agency_dashboard_costs_the_same_for_few_or_many_posts(app, client, database_url):
    desk = make_desk()
    web = _as(app, desk, "manager")
    _constant(lambda: web.get(f"/a/{desk.agency.slug}/"), _grower(client, desk))


def test_notifications_page_costs_the_same_for_few_or_many(app, client, database_url):
    desk = make_desk()
    web = _as(app, desk, "cm")
    _constant(lambda: web.get(f"/a/{desk.agency.slug}/notifications/"), _grower(client, desk))
