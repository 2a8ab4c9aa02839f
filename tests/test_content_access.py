"""Who sees and does what with posts (DESIGN.md §4), through the API."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from agency.content.models import Comment, Post
from agency.db import db
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.factories import make_agency, owner_of, token_for
from tests.helpers import bearer


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _ids(http, desk, who: str, **params) -> set[str]:
    r = http.get("/api/v1/posts", query_string=params, headers=desk.h(who))
    assert r.status_code == 200, r.get_json()
    return {p["id"] for p in r.get_json()["items"]}


def test_client_manager_never_sees_drafts_not_yet_sent(client, desk):
    post = draft(client, desk)
    for who in ("cm", "viewer"):
        assert post["id"] not in _ids(client, desk, who)
        assert client.get(f"/api/v1/posts/{post['id']}", headers=desk.h(who)).status_code == 404
    act(client, desk, post["id"], "submit", "staff")  # in internal review: still not sent
    assert post["id"] not in _ids(client, desk, "cm")
    act(client, desk, post["id"], "approve", "manager")
    assert post["id"] in _ids(client, desk, "cm")
    assert post["id"] in _ids(client, desk, "viewer")


def test_client_manager_never_sees_internal_comments(client, desk):
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    url = f"/api/v1/posts/{post['id']}/comments"
    internal = client.post(
        url, json={"body": "Client is picky, keep it short"}, headers=desk.h("staff")
    )
    assert internal.status_code == 201 and internal.get_json()["visibility"] == "internal"
    shared = client.post(
        url, json={"body": "Here it is", "visibility": "shared"}, headers=desk.h("staff")
    )
    assert shared.status_code == 201
    mine = client.post(url, json={"body": "Looks good"}, headers=desk.h("cm"))
    assert mine.status_code == 201 and mine.get_json()["visibility"] == "shared"

    seen = client.get(url, headers=desk.h("cm")).get_json()["items"]
    assert [c["body"] for c in seen] == ["Here it is", "Looks good"]
    agency_seen = client.get(url, headers=desk.h("staff")).get_json()["items"]
    assert len(agency_seen) == 3
    activity = client.get(f"/api/v1/posts/{post['id']}/activity", headers=desk.h("cm"))
    text = activity.get_data(as_text=True)
    assert "internal" not in text and "picky" not in text
    assert all(e["action"] != "post.submitted" for e in activity.get_json()["items"])


def test_client_cannot_post_internal_comments_and_viewer_cannot_comment(client, desk):
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    url = f"/api/v1/posts/{post['id']}/comments"
    r = client.post(url, json={"body": "psst", "visibility": "internal"}, headers=desk.h("cm"))
    assert r.status_code == 422
    assert client.post(url, json={"body": "hi"}, headers=desk.h("viewer")).status_code == 403
    with tenant_context(desk.ids["agency"]):
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 0


def test_client_manager_decides_only_when_the_post_awaits_them(client, desk):
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    # Agency roles do not decide the client's step, the viewer cannot, other clients cannot.
    assert act(client, desk, post["id"], "approve", "manager").status_code == 403
    assert act(client, desk, post["id"], "approve", "viewer").status_code == 403
    assert act(client, desk, post["id"], "approve", "other_cm").status_code == 404
    assert act(client, desk, post["id"], "approve", "cm").get_json()["status"] == "approved"
    # Approved: nothing awaits them any more.
    assert act(client, desk, post["id"], "approve", "cm2").status_code == 409


def test_staff_only_on_assigned_clients(client, desk):
    post = draft(client, desk)
    assert (
        client.get(f"/api/v1/posts/{post['id']}", headers=desk.h("other_staff")).status_code == 404
    )
    assert post["id"] not in _ids(client, desk, "other_staff")
    r = client.post(
        "/api/v1/posts",
        json={"client_id": desk.ids["client"], "body": "x", "channel_ids": [desk.ids["mastodon"]]},
        headers=desk.h("other_staff"),
    )
    assert r.status_code == 404
    # Staff cannot do the internal review.
    act(client, desk, post["id"], "submit", "staff")
    assert act(client, desk, post["id"], "approve", "staff").status_code == 403


def test_finance_sees_no_content(client, desk):
    post = draft(client, desk)
    assert client.get("/api/v1/posts", headers=desk.h("finance")).status_code == 403
    assert client.get(f"/api/v1/posts/{post['id']}", headers=desk.h("finance")).status_code == 403
    assert client.get("/api/v1/inbox", headers=desk.h("finance")).status_code == 403


def test_another_agencys_post_is_404_everywhere(client, desk):
    post = draft(client, desk)
    stranger = make_agency()
    headers = bearer(token_for(owner_of(stranger), stranger))
    base = f"/api/v1/posts/{post['id']}"
    assert client.get(base, headers=headers).status_code == 404
    assert client.patch(base, json={"body": "x"}, headers=headers).status_code == 404
    for path in ("revisions", "activity", "comments"):
        assert client.get(f"{base}/{path}", headers=headers).status_code == 404
    for action in ("submit", "approve", "reject", "archive"):
        assert client.post(f"{base}/{action}", json={}, headers=headers).status_code == 404
    assert client.get("/api/v1/posts", headers=headers).get_json()["items"] == []
    with tenant_context(desk.ids["agency"]):
        row = db.session.scalar(select(Post).where(Post.id == uuid.UUID(post["id"])))
        assert (row.status, row.revision) == ("draft", 1)


def test_channels_of_another_client_are_refused(client, desk):
    r = client.post(
        "/api/v1/posts",
        json={
            "client_id": desk.ids["client"],
            "body": "x",
            "channel_ids": [desk.ids["other_channel"]],
        },
        headers=desk.h("owner"),
    )
    assert r.status_code == 422 and "channel_ids" in r.get_json()["errors"]["json"]
    with tenant_context(desk.ids["agency"]):
        assert db.session.scalar(select(func.count()).select_from(Post)) == 0


def test_list_filters_and_cursor(client, desk):
    made = [draft(client, desk, body=f"Post {i}")["id"] for i in range(5)]
    act(client, desk, made[0], "submit", "staff")
    assert _ids(client, desk, "owner", status="in_review") == {made[0]}
    assert _ids(client, desk, "owner", kind="reply") == set()
    page = client.get("/api/v1/posts?limit=2", headers=desk.h("owner")).get_json()
    seen = [p["id"] for p in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            "/api/v1/posts", query_string={"limit": 2, "cursor": page["next_cursor"]},
            headers=desk.h("owner"),
        ).get_json()  # fmt: skip
        seen += [p["id"] for p in page["items"]]
    assert sorted(seen) == sorted(made) and len(seen) == 5
    bad = client.get("/api/v1/posts?cursor=nonsense", headers=desk.h("owner"))
    assert bad.status_code == 422
    assert client.get("/api/v1/posts?status=bogus", headers=desk.h("owner")).status_code == 422
