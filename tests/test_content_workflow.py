"""The approval workflow through the API: states, policy steps, revisions, illegal moves."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.content import approval, states
from agency.content.models import Approval, Post, PostStatus, Revision
from agency.db import db
from agency.errors import IllegalTransition
from tenants.context import tenant_context
from tests.content_helpers import act, draft, later, make_desk


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _snapshot(desk, post_id: str) -> tuple:
    """Everything a refused transition must leave unchanged."""
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        post = db.session.scalar(select(Post).where(Post.id == uuid.UUID(str(post_id))))
        return (
            post.status,
            post.revision,
            post.approved_revision,
            post.client_revision,
            db.session.scalar(select(func.count()).select_from(Revision)),
            db.session.scalar(select(func.count()).select_from(Approval)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_full_loop_internal_review_then_client_approval_schedules(client, desk):
    post = draft(client, desk, scheduled_at=later())
    assert post["status"] == "draft" and post["revision"] == 1
    assert act(client, desk, post["id"], "submit", "staff").get_json()["status"] == "in_review"
    r = act(client, desk, post["id"], "approve", "manager", revision=1)
    assert r.status_code == 200 and r.get_json()["status"] == "awaiting_client"
    r = act(client, desk, post["id"], "approve", "cm", comment="Lovely")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "scheduled"
    assert body["approved_revision"] == 1
    assert {t["status"] for t in body["targets"]} == {"scheduled"}
    activity = client.get(f"/api/v1/posts/{post['id']}/activity", headers=desk.h("owner"))
    decisions = [e for e in activity.get_json()["items"] if e["action"] == "post.decided"]
    assert [(d["data"]["step"], d["via"], d["data"]["revision"]) for d in decisions] == [
        ("internal", "api", 1),
        ("client", "api", 1),
    ]
    assert decisions[1]["data"]["hash"] == body["content_hash"]


def test_edit_after_approval_voids_it_and_goes_back_for_approval(client, desk):
    post = draft(client, desk, scheduled_at=later())
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    assert act(client, desk, post["id"], "approve", "cm").get_json()["status"] == "scheduled"

    r = client.patch(
        f"/api/v1/posts/{post['id']}", json={"body": "Hello, edited"}, headers=desk.h("staff")
    )
    assert r.status_code == 200, r.get_json()
    edited = r.get_json()
    assert edited["status"] == "in_review"
    assert edited["revision"] == 2
    assert edited["approved_revision"] is None
    with tenant_context(desk.ids["agency"]):
        voided = db.session.scalars(select(Approval.voided_at)).all()
    assert len(voided) == 2 and all(v is not None for v in voided)
    # The client still sees revision 1 until revision 2 is sent to them.
    seen = client.get(f"/api/v1/posts/{post['id']}", headers=desk.h("cm")).get_json()
    assert seen["revision"] == 1 and seen["body"] == "Hello from Bellavista"
    act(client, desk, post["id"], "approve", "manager")
    seen = client.get(f"/api/v1/posts/{post['id']}", headers=desk.h("cm")).get_json()
    assert seen["revision"] == 2 and seen["status"] == "awaiting_client"
    revisions = client.get(f"/api/v1/posts/{post['id']}/revisions", headers=desk.h("cm"))
    newest = revisions.get_json()["items"][0]
    assert newest["number"] == 2 and "+Hello, edited" in newest["diff"]


def test_an_approval_names_the_revision_it_saw(client, desk):
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    before = _snapshot(desk, post["id"])
    r = act(client, desk, post["id"], "approve", "manager", revision=2)
    assert r.status_code == 409
    assert r.get_json()["code"] == 409 and r.get_json()["status"] == "Conflict"
    assert _snapshot(desk, post["id"]) == before


def test_only_the_approved_revision_can_be_scheduled(app, desk, client):
    post = draft(client, desk, scheduled_at=later())
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    act(client, desk, post["id"], "approve", "cm")
    with tenant_context(desk.ids["agency"]):
        row = db.session.scalar(select(Post).where(Post.id == uuid.UUID(post["id"])))
        row.status = PostStatus.APPROVED.value  # as if the late rule had held it
        row.revision = 2  # a newer revision than the one approved
        from tenants.service import load_access
        from tests.factories import owner_of

        access = load_access(owner_of(desk.agency), desk.agency)
        with pytest.raises(IllegalTransition):
            approval.schedule(access, row, "api")
        assert row.status == PostStatus.APPROVED.value
        db.session.rollback()


# Every (action, state) pair not in the table answers 409 and changes nothing.
ACTION_ENDPOINTS = {
    "submit": ("submit", "staff"),
    "approve": ("approve", "manager"),
    "request_changes": ("request-changes", "manager"),
    "reject": ("reject", "manager"),
    "archive": ("archive", "staff"),
}


def _post_in(client, desk, status: PostStatus) -> str:
    post = draft(client, desk)
    with tenant_context(desk.ids["agency"]):
        db.session.scalar(
            select(Post).where(Post.id == uuid.UUID(post["id"]))
        ).status = status.value
        db.session.commit()
    return post["id"]


@pytest.mark.parametrize("action", sorted(ACTION_ENDPOINTS))
def test_every_illegal_transition_is_409_and_changes_nothing(client, desk, action):
    path, who = ACTION_ENDPOINTS[action]
    illegal = [s for s in PostStatus if s not in states.ACTIONS[action]]
    assert illegal, action
    for status in illegal:
        post_id = _post_in(client, desk, status)
        before = _snapshot(desk, post_id)
        r = act(client, desk, post_id, path, who, comment="Because")
        assert r.status_code == 409, (action, status, r.get_json())
        assert _snapshot(desk, post_id) == before, (action, status)


def test_editing_in_a_final_state_is_409(client, desk):
    for status in set(PostStatus) - states.ACTIONS["edit"]:
        post_id = _post_in(client, desk, status)
        before = _snapshot(desk, post_id)
        r = client.patch(f"/api/v1/posts/{post_id}", json={"body": "x"}, headers=desk.h("staff"))
        assert r.status_code == 409, status
        assert _snapshot(desk, post_id) == before


def test_state_graph_has_no_edge_out_of_archived_and_publishing_only_to_outcomes():
    assert states.EDGES[PostStatus.ARCHIVED] == frozenset()
    assert states.EDGES[PostStatus.PUBLISHING] == {
        PostStatus.PUBLISHED,
        PostStatus.PARTIALLY_PUBLISHED,
        PostStatus.FAILED,
    }
    assert set(states.EDGES) == set(PostStatus)


def test_request_changes_needs_a_comment_and_edit_returns_to_draft(client, desk):
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    r = act(client, desk, post["id"], "request-changes", "manager")
    assert r.status_code == 422 and "comment" in r.get_json()["errors"]["json"]
    r = act(client, desk, post["id"], "request-changes", "manager", comment="Shorter please")
    assert r.get_json()["status"] == "changes_requested"
    r = client.patch(f"/api/v1/posts/{post['id']}", json={"body": "Hi"}, headers=desk.h("staff"))
    assert r.get_json()["status"] == "draft" and r.get_json()["revision"] == 2


def test_all_policy_needs_every_approver(client, app, database_url):
    desk = make_desk(client_approval="all")
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    assert act(client, desk, post["id"], "approve", "cm").get_json()["status"] == "awaiting_client"
    assert act(client, desk, post["id"], "approve", "cm").status_code == 409  # decided already
    assert act(client, desk, post["id"], "approve", "cm2").get_json()["status"] == "approved"


def test_no_review_policy_approves_on_submit(client, app, database_url):
    desk = make_desk(client_approval="none", internal_review=False)
    post = draft(client, desk, scheduled_at=later())
    assert act(client, desk, post["id"], "submit", "staff").get_json()["status"] == "scheduled"


def test_deadline_is_scheduled_at_minus_lead_time(client, app, database_url):
    from datetime import datetime, timedelta

    desk = make_desk(lead_time_hours=48)
    when = later(100)
    post = draft(client, desk, scheduled_at=when)
    body = act(client, desk, post["id"], "submit", "staff").get_json()
    deadline = datetime.fromisoformat(body["approval_deadline"])
    assert deadline == datetime.fromisoformat(when) - timedelta(hours=48)


def test_reply_policy_none_approves_replies_straight_away(client, app, database_url):
    desk = make_desk(reply_policy="none")
    item = client.post(
        "/api/v1/inbox",
        json={"channel_id": desk.ids["mastodon"], "author": "@fan", "body": "When do you open?"},
        headers=desk.h("staff"),
    )
    assert item.status_code == 201, item.get_json()
    r = client.post(
        f"/api/v1/inbox/{item.get_json()['id']}/reply",
        json={"body": "At nine!"},
        headers=desk.h("staff"),
    )
    assert r.status_code == 201, r.get_json()
    # An approved reply without a time goes out at once: scheduled for now.
    assert r.get_json()["kind"] == "reply" and r.get_json()["status"] == "scheduled"
    listed = client.get("/api/v1/inbox", headers=desk.h("staff")).get_json()["items"]
    assert listed[0]["status"] == "replied" and listed[0]["response_seconds"] >= 0
    again = client.post(
        f"/api/v1/inbox/{item.get_json()['id']}/reply", json={"body": "x"}, headers=desk.h("staff")
    )
    assert again.status_code == 409


def test_reply_policy_internal_only_skips_the_client(client, app, database_url):
    desk = make_desk(reply_policy="internal_only")
    item = client.post(
        "/api/v1/inbox",
        json={"channel_id": desk.ids["mastodon"], "author": "@fan", "body": "Hi"},
        headers=desk.h("staff"),
    ).get_json()
    reply = client.post(
        f"/api/v1/inbox/{item['id']}/reply", json={"body": "Hello"}, headers=desk.h("staff")
    ).get_json()
    assert reply["status"] == "in_review"
    assert act(client, desk, reply["id"], "approve", "manager").get_json()["status"] == "scheduled"


def test_dropping_a_channel_drops_its_variant_but_a_stray_variant_is_refused(client, desk):
    post = draft(
        client, desk, channel_ids=[desk.ids["mastodon"], desk.ids["x"]],
        variants={desk.ids["x"]: "For X"},
    )  # fmt: skip
    url = f"/api/v1/posts/{post['id']}"
    r = client.patch(url, json={"channel_ids": [desk.ids["mastodon"]]}, headers=desk.h("staff"))
    assert r.status_code == 200 and r.get_json()["variants"] == {}
    r = client.patch(url, json={"variants": {desk.ids["x"]: "Stray"}}, headers=desk.h("staff"))
    assert r.status_code == 422 and "variants" in r.get_json()["errors"]["json"]
    assert client.get(url, headers=desk.h("staff")).get_json()["revision"] == 2
