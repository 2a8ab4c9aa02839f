"""The hot API lists write their JSON by hand (agency/web/json_out.py): each list's items
equal, field for field, what the documented marshmallow schema dumps for the same rows."""

from __future__ import annotations

import uuid

import pytest
from flask import g
from sqlalchemy import select

from agency.clients import service as clients
from agency.clients.schemas import ClientOut
from agency.content import queries
from agency.content.models import PostTarget
from agency.content.schemas import PostOut
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Role
from tenants.permissions import Access
from tests.content_helpers import act, draft, make_desk
from tests.factories import make_client, make_member, owner_of, token_for
from tests.helpers import bearer


def _access(agency, user) -> Access:  # noqa: ANN001
    from tenants.service import load_access

    return load_access(user, agency)


def test_client_list_columns_are_the_documented_client_object():
    assert set(clients.LISTED_COLUMNS) == set(ClientOut().fields)


def test_clients_api_list_equals_the_schema_dump(app, client, database_url):
    desk = make_desk()
    agency = desk.agency
    make_client(
        agency,
        "Zeta Srl",
        country="IT",
        vat_number="IT01234567897",
        address="Via Roma 1",
        postal_code="20100",
        city="Milano",
        province="MI",
        billing_email="billing@zeta.example",
        sdi_code="ABC1234",
        currency="EUR",
        timezone="Europe/Rome",
        language="it",
        status="active",
    )
    response = client.get("/api/v1/clients?limit=2", headers=desk.h("owner"))
    assert response.status_code == 200
    first = response.get_json()
    assert first["next_cursor"]
    second = client.get(
        f"/api/v1/clients?limit=2&cursor={first['next_cursor']}", headers=desk.h("owner")
    ).get_json()
    with app.test_request_context(), tenant_context(agency.id):
        access = _access(agency, owner_of(agency))
        g.access = access
        expected, cursor = clients.list_clients(access, limit=2)
        assert cursor == first["next_cursor"]
        rest, _ = clients.list_clients(access, cursor=cursor, limit=2)
        dumped = ClientOut(many=True).dump(expected + rest)
    got = first["items"] + second["items"]
    assert got == dumped
    assert [c["name"] for c in got] == ["Bellavista", "Other Co", "Zeta Srl"]


@pytest.mark.parametrize("who", ["owner", "staff", "cm"])
def test_posts_api_list_equals_the_schema_dump(app, client, database_url, who):
    desk = make_desk()
    long_text = "Tip of the week: " + "really " * 60 + "https://example.com/a-long-link"
    first = draft(client, desk, body=long_text, channel_ids=[desk.ids["mastodon"], desk.ids["x"]])
    second = draft(
        client,
        desk,
        body="Short one 🎉 with an emoji",
        channel_ids=[desk.ids["x"]],
        variants={desk.ids["x"]: "The X variant https://example.com/x"},
        scheduled_at="2031-05-04T10:30:00+02:00",
    )
    third = draft(client, desk, body="Still a draft", channel_ids=[desk.ids["mastodon"]])
    for post in (first, second):
        act(client, desk, post["id"], "submit", "staff")
        act(client, desk, post["id"], "approve", "manager")  # sent to the client
    # An edit after the client's copy was sent: the client never sees the new text.
    patched = client.patch(
        f"/api/v1/posts/{first['id']}",
        json={"body": "Edited after sending"},
        headers=desk.h("staff"),
    )
    assert patched.status_code == 200, patched.get_json()
    with tenant_context(desk.agency.id):
        target = db.session.scalars(
            select(PostTarget).where(PostTarget.post_id == uuid.UUID(second["id"]))
        ).first()
        target.last_error = "internal: the network said no"
        target.external_url = "https://x.example/status/1"
        db.session.commit()

    response = client.get("/api/v1/posts?limit=2", headers=desk.h(who))
    assert response.status_code == 200
    page = response.get_json()
    items = list(page["items"])
    if page["next_cursor"]:
        more = client.get(
            f"/api/v1/posts?limit=2&cursor={page['next_cursor']}", headers=desk.h(who)
        ).get_json()
        items += more["items"]
    with app.test_request_context(), tenant_context(desk.agency.id):
        access = _access(desk.agency, desk.users[who])
        expected, cursor = queries.list_posts(access, limit=2)
        assert cursor == page["next_cursor"]
        if cursor:
            expected += queries.list_posts(access, cursor=cursor, limit=2)[0]
        dumped = PostOut(many=True).dump(expected)
    assert items == dumped
    ids = [p["id"] for p in items]
    if who == "cm":  # never the draft; the edit not yet sent
        assert third["id"] not in ids
        assert items and "Edited after sending" not in {p["body"] for p in items}
        assert all(t["last_error"] is None for p in items for t in p["targets"])
    else:
        assert set(ids) == {first["id"], second["id"], third["id"]}
        assert any(t["last_error"] for p in items for t in p["targets"])


def test_character_counts_are_memoized_by_text_and_still_follow_the_channel_limit(
    app, database_url
):
    from agency.content import limits

    text = "hello https://example.com/" + "x" * 80
    assert limits.count("mastodon", text, {"max_characters": 40}) == limits.Count(29, 40)
    assert limits.count("mastodon", text, {}) == limits.Count(29, 500)
    assert limits.count("x", text) == limits.Count(29, 280)
    long_text = "é" * (limits.MEMO_MAX_TEXT + 1)
    assert limits.count("bluesky", long_text) == limits.Count(limits.MEMO_MAX_TEXT + 1, 300)


def test_staff_sees_only_assigned_clients_in_the_json_lists(app, client, database_url):
    desk = make_desk()
    other_post = draft(
        client,
        desk,
        who="other_staff",
        client_id=desk.ids["other_client"],
        body="Other",
        channel_ids=[desk.ids["other_channel"]],
    )
    mine = draft(client, desk, body="Mine", channel_ids=[desk.ids["mastodon"]])
    posts = client.get("/api/v1/posts", headers=desk.h("staff")).get_json()["items"]
    assert [p["id"] for p in posts] == [mine["id"]], other_post
    clients_seen = client.get("/api/v1/clients", headers=desk.h("staff")).get_json()["items"]
    assert [c["name"] for c in clients_seen] == ["Bellavista"]
    unassigned = make_member(desk.agency, Role.STAFF)
    nothing = client.get("/api/v1/clients", headers=bearer(token_for(unassigned, desk.agency)))
    assert nothing.get_json()["items"] == []
