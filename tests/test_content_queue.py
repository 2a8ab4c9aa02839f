"""The approval queue: what waits on me, bulk approve for client managers (its constant
statements: tests/test_content_queries.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agency.content.models import Post
from agency.db import db
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.helpers import form_post


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _login(app, auth, desk, who: str):  # noqa: ANN202
    web = app.test_client()
    assert auth.__class__(web).login(desk.users[who].email).status_code == 302
    return web


def _awaiting_client(client, desk, body: str) -> dict:
    post = draft(client, desk, body=body)
    act(client, desk, post["id"], "submit", "staff")
    return act(client, desk, post["id"], "approve", "manager").get_json()


def _statuses(desk) -> dict[str, str]:
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        return {p.id.hex: p.status for p in db.session.scalars(select(Post))}


def test_client_manager_bulk_approves_what_waits_on_them(app, auth, client, desk):
    a, b, c = (_awaiting_client(client, desk, f"Post {n}") for n in "abc")
    in_review = draft(client, desk, body="Still internal")
    act(client, desk, in_review["id"], "submit", "staff")
    cm = _login(app, auth, desk, "cm")
    url = f"/a/{desk.agency.slug}/posts/queue"
    html = cm.get(url).get_data(as_text=True)
    assert all(f"Post {n}" in html for n in "abc") and "Still internal" not in html
    manager_html = _login(app, auth, desk, "manager").get(url).get_data(as_text=True)
    assert "Still internal" in manager_html and "Post a" not in manager_html
    # b changes after the page was shown: its old revision is refused, the rest approved.
    client.patch(f"/api/v1/posts/{b['id']}", json={"body": "B changed"}, headers=desk.h("staff"))
    r = form_post(
        cm, f"{url}/approve", {"post": [f"{a['id']}:1", f"{b['id']}:1"]}, page=url,
        follow_redirects=True,
    )  # fmt: skip
    assert "1 post approved." in r.get_data(as_text=True)
    statuses = _statuses(desk)
    assert statuses[a["id"].replace("-", "")] == "approved"
    assert statuses[b["id"].replace("-", "")] == "in_review"
    assert statuses[c["id"].replace("-", "")] == "awaiting_client"


def test_dashboard_shows_what_waits_on_the_client_manager(app, auth, client, desk):
    _awaiting_client(client, desk, "Please approve me")
    html = _login(app, auth, desk, "cm").get(f"/a/{desk.agency.slug}/").get_data(as_text=True)
    assert "Waiting for your approval" in html  # the client portal and "Please approve me" in html
    finance = _login(app, auth, desk, "finance").get(f"/a/{desk.agency.slug}/")
    assert "Waiting for your decision" not in finance.get_data(as_text=True)


def test_managers_see_the_median_client_turnaround_chart(app, auth, client, desk):
    from agency.content import stats

    for body in ("One", "Two", "Three"):
        post = _awaiting_client(client, desk, body)
        act(client, desk, post["id"], "approve", "cm")
    with tenant_context(desk.ids["agency"]):
        [row] = stats.turnaround_by_client()
    assert row.client_name == "Bellavista" and row.decisions == 3 and row.median_hours >= 0
    html = _login(app, auth, desk, "manager").get(f"/a/{desk.agency.slug}/").get_data(as_text=True)
    assert "<svg" in html and "Bellavista" in html
    staff_html = _login(app, auth, desk, "staff").get(f"/a/{desk.agency.slug}/")
    assert "<svg" not in staff_html.get_data(as_text=True)


def test_changes_requested_wait_on_the_author(app, auth, client, desk):
    post = draft(client, desk, body="Needs work")
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "request-changes", "manager", comment="Shorter")
    url = f"/a/{desk.agency.slug}/posts/queue"
    assert "Needs work" in _login(app, auth, desk, "staff").get(url).get_data(as_text=True)
    assert "Needs work" not in _login(app, auth, desk, "owner").get(url).get_data(as_text=True)
