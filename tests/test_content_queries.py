"""Post lists cost a constant number of SQL statements (5 vs 100 posts); the audit log and
revisions refuse changes at the database level (PostgreSQL triggers)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from agency.db import db
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.test_query_counts import count_statements


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _grow(client, desk, n: int) -> None:
    for i in range(n):
        post = draft(
            client, desk, body=f"Post {i}", channel_ids=[desk.ids["mastodon"], desk.ids["x"]]
        )
        if i % 2 == 0:
            act(client, desk, post["id"], "submit", "staff")
            act(client, desk, post["id"], "approve", "manager")  # sent to the client


@pytest.mark.parametrize("who", ["owner", "staff", "cm"])
def test_posts_api_costs_the_same_for_5_or_100_posts(client, desk, who):
    def request():  # noqa: ANN202
        return client.get("/api/v1/posts?limit=100", headers=desk.h(who))

    _grow(client, desk, 5)
    request()
    with count_statements() as few:
        response = request()
    assert response.status_code == 200 and len(response.get_json()["items"]) >= 3
    _grow(client, desk, 95)
    with count_statements() as many:
        response = request()
    assert len(response.get_json()["items"]) >= 50
    assert len(many) == len(few), "\n".join(many)


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
