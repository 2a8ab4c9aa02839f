"""Post lists cost a constant number of SQL statements (5 vs 100 posts); the audit log and
revisions refuse changes at the database level (PostgreSQL triggers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from agency.db import db, utcnow
from tenants.context import tenant_context
from tests.content_helpers import Desktop, draft, make_desk
from tests.helpers import AuthActions
from tests.test_query_counts import count_statements


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _grow(client, desk, n: int) -> None:
    desktop = Desktop(desk)
    for i in range(n):
        post = desktop.draft(body=f"Post {i}", channel_ids=[desk.ids["mastodon"], desk.ids["x"]])
        if i % 2 == 0:
            desktop.act(post["id"], "submit", "staff")
            desktop.act(post["id"], "approve", "manager")  # sent to the client


def test_posts_api_costs_the_same_for_5_or_100_posts_for_each_role(client, desk):
    """The owner (every post), assigned staff and the client manager (posts sent to the
    client): the same statements with 5 posts and with 100, each role on the same posts."""
    roles = ("owner", "staff", "cm")

    def measure() -> dict[str, tuple[list[str], int]]:
        out = {}
        for who in roles:
            client.get("/api/v1/posts?limit=100", headers=desk.h(who))  # warm-up
            with count_statements() as statements:
                response = client.get("/api/v1/posts?limit=100", headers=desk.h(who))
            assert response.status_code == 200, (who, response.get_json())
            out[who] = (statements, len(response.get_json()["items"]))
        return out

    _grow(client, desk, 5)
    few = measure()
    _grow(client, desk, 95)
    many = measure()
    assert {who: shown for who, (_s, shown) in few.items()} == {"owner": 5, "staff": 5, "cm": 3}
    assert {who: shown for who, (_s, shown) in many.items()} == {
        "owner": 100, "staff": 100, "cm": 51,
    }  # fmt: skip
    for who in roles:
        assert len(many[who][0]) == len(few[who][0]), f"{who}:\n" + "\n".join(many[who][0])


def test_inbox_api_costs_the_same_for_5_or_100_items(client, desk):
    def grow(n: int) -> None:
        for _ in range(n):
            r = client.post(
                "/api/v1/inbox",
                json={"channel_id": desk.ids["mastodon"], "author": "@a", "body": "Hi"},
                headers=desk.h("staff"),
            )
            assert r.status_code == 201

    grow(5)
    with count_statements() as few:
        assert client.get("/api/v1/inbox?limit=100", headers=desk.h("staff")).status_code == 200
    grow(95)
    with count_statements() as many:
        r = client.get("/api/v1/inbox?limit=100", headers=desk.h("staff"))
    assert len(r.get_json()["items"]) == 100
    assert len(many) == len(few)


def _scheduled_mix(client, desk, start, first: int, n: int) -> None:
    """``n`` posts scheduled from ``start`` on: a third drafts, a third in internal review,
    a third awaiting the client (so every role's queue and calendar grow)."""
    desktop = Desktop(desk)
    for i in range(first, first + n):
        when = (start + timedelta(minutes=i)).isoformat()
        post = desktop.draft(body=f"qc-{i:03d} hello", scheduled_at=when)
        if i % 3:
            desktop.act(post["id"], "submit", "staff")
        if i % 3 == 2:
            desktop.act(post["id"], "approve", "manager")


# (who, url) pairs; {slug} and {day} are filled in. Tokens for the API, a session otherwise.
PAGES = [
    ("owner", "/a/{slug}/posts/calendar?date={day}"),
    ("owner", "/a/{slug}/posts/calendar?view=month&date={day}"),
    ("owner", "/a/{slug}/posts/"),
    ("owner", "/a/{slug}/"),
    ("manager", "/a/{slug}/posts/queue"),
    ("staff", "/a/{slug}/posts/calendar?date={day}"),
    ("staff", "/a/{slug}/posts/"),
    ("cm", "/a/{slug}/posts/queue"),
    ("cm", "/a/{slug}/posts/calendar?date={day}"),
    ("cm", "/a/{slug}/"),
    ("owner", "/api/v1/posts?limit=100"),
    ("owner", "/api/v1/clients?limit=50"),
    ("staff", "/api/v1/inbox?limit=100"),
]


def test_queue_calendar_and_lists_cost_the_same_for_5_or_100_posts(app, client, desk):
    """Every role's approval queue, week and month calendar, post list and dashboard, and
    the API lists: the same statements with 5 posts and with 100 (an N+1 shows here)."""
    start = (utcnow() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    day, slug = start.date().isoformat(), desk.agency.slug
    browsers = {}
    for who in {who for who, _url in PAGES}:
        browsers[who] = app.test_client()
        assert AuthActions(browsers[who]).login(desk.users[who].email).status_code == 302

    def measure() -> list[tuple[int, int, int]]:
        out = []
        for who, url in PAGES:
            url = url.format(slug=slug, day=day)
            api = url.startswith("/api/")
            get = (lambda u=url, w=who: client.get(u, headers=desk.h(w))) if api else (
                lambda u=url, w=who: browsers[w].get(u)
            )  # fmt: skip
            get()  # warm-up: once-a-minute token writes and first-request caches
            with count_statements() as statements:
                response = get()
            assert response.status_code == 200, (who, url)
            html = response.get_data(as_text=True)
            out.append((len(statements), html.count("qc-"), html.count('name="post"')))
        return out

    _scheduled_mix(client, desk, start, 0, 6)
    few = measure()
    _scheduled_mix(client, desk, start, 6, 96)
    many = measure()
    grown, shown = [], []
    for (who, url), (n_few, shown_few, _), (n_many, shown_many, _) in zip(
        PAGES, few, many, strict=True
    ):
        if n_many != n_few:
            grown.append(f"{who} {url}: {n_few} statements with 6 posts, {n_many} with 102")
        if "clients" not in url and "inbox" not in url and shown_many <= shown_few:
            shown.append(f"{who} {url}")
    assert not grown, "\n".join(grown)
    assert not shown, f"these show no more posts with 102 than with 6: {shown}"
    # The client manager's queue offers each post awaiting them for bulk approval: a third.
    cm_queue = PAGES.index(("cm", "/a/{slug}/posts/queue"))
    assert (few[cm_queue][2], many[cm_queue][2]) == (2, 34)


@pytest.mark.postgresql
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "UPDATE revisions SET body = 'forged'",
    ],
)
def test_audit_log_and_revisions_refuse_changes_in_the_database(client, desk, statement):
    draft(client, desk)
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        assert db.session.execute(text("SELECT count(*) FROM audit_events")).scalar() >= 1
        with pytest.raises(DBAPIError, match="refused"):
            db.session.execute(text(statement))
        db.session.rollback()
        assert (
            db.session.execute(
                text("SELECT count(*) FROM audit_events WHERE action = 'forged'")
            ).scalar()
            == 0
        )
