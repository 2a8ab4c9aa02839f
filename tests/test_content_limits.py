"""Per-network limits: how each network counts, and submit refusing too-long text (422)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.content import limits
from agency.content.models import Post
from agency.db import db
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.factories import make_channel


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("hello", 5),
        ("see https://example.com/a/very/long/path?with=query now", 4 + 23 + 4),
        ("www.example.org", 23),
        ("日本語", 6),  # CJK weighs 2
        ("👍🏽 ok", 2 + 3),  # an emoji sequence weighs 2 whatever its code points
        ("👨‍👩‍👧", 2),
        ("café", 4),  # NFC: é is one code point
        ("cafe\u0301", 4),
    ],
)
def test_x_counts_like_twitter_text(text, weighted):
    assert limits.x_length(text) == weighted


def test_x_limit_is_280_weighted():
    assert limits.count("x", "a" * 280).ok
    assert not limits.count("x", "a" * 281).ok
    assert not limits.count("x", "日" * 141).ok  # 282 weighted
    assert limits.count("x", ("https://example.com/" + "x" * 100 + " ") * 11).ok  # 11 × 24


def test_mastodon_counts_urls_as_23_and_remote_mentions_by_local_part():
    assert limits.mastodon_length("hi @bob@mastodon.social") == len("hi @bob")
    assert limits.mastodon_length("https://example.com/" + "x" * 300) == 23
    assert limits.count("mastodon", "a" * 500).ok and not limits.count("mastodon", "a" * 501).ok
    assert limits.count("mastodon", "a" * 900, {"max_characters": 1000}).ok


def test_bluesky_counts_graphemes_and_others_characters():
    assert limits.count("bluesky", "👨‍👩‍👧" * 300).ok
    assert not limits.count("bluesky", "a" * 301).ok
    assert limits.count("linkedin", "a" * 3000).ok and not limits.count("linkedin", "a" * 3001).ok
    assert not limits.count("instagram", "a" * 2201).ok
    assert limits.count("facebook_page", "a" * 63206).ok
    assert not limits.count("facebook_page", "a" * 63207).ok
    assert limits.needs_image("instagram") and not limits.needs_image("x")


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def test_submit_refuses_text_over_a_channels_limit_naming_it(client, desk):
    post = draft(
        client,
        desk,
        body="a" * 300,
        channel_ids=[desk.ids["mastodon"], desk.ids["x"]],
    )
    x_target = next(t for t in post["targets"] if t["network"] == "x")
    assert x_target["characters"] == {"used": 300, "limit": 280}
    r = act(client, desk, post["id"], "submit", "staff")
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]["channels"]
    assert list(errors) == [desk.ids["x"]]
    assert "Xeet" in errors[desk.ids["x"]][0] and "280" in errors[desk.ids["x"]][0]
    with tenant_context(desk.ids["agency"]):
        assert (
            db.session.scalar(select(Post.status).where(Post.id == uuid.UUID(post["id"])))
            == "draft"
        )
    # A shorter X variant fixes it; the base text still goes to Mastodon.
    r = client.patch(
        f"/api/v1/posts/{post['id']}",
        json={"variants": {desk.ids["x"]: "Short for X"}},
        headers=desk.h("staff"),
    )
    assert r.status_code == 200, r.get_json()
    assert act(client, desk, post["id"], "submit", "staff").status_code == 200


def test_instagram_needs_an_image(client, desk):
    insta = make_channel(
        desk.agency, desk.client, network="instagram", name="Gram", settings={}, secrets={}
    )
    post = draft(client, desk, channel_ids=[str(insta.id)])
    r = act(client, desk, post["id"], "submit", "staff")
    assert r.status_code == 422 and "image" in str(r.get_json()["errors"])
    # With an image uploaded for the client (tests/test_content_media.py), it submits.


def test_schedule_in_the_past_is_refused(client, desk):
    r = client.post(
        "/api/v1/posts",
        json={
            "client_id": desk.ids["client"],
            "body": "x",
            "channel_ids": [desk.ids["mastodon"]],
            "scheduled_at": "2020-01-01T10:00:00+00:00",
        },
        headers=desk.h("staff"),
    )
    assert r.status_code == 422 and "scheduled_at" in r.get_json()["errors"]["json"]


def test_an_instagram_reply_needs_no_image(client, desk):
    """A reply to an Instagram comment is text only: the image rule is for posts."""
    insta = make_channel(
        desk.agency, desk.client, network="instagram", name="Gram", settings={}, secrets={}
    )
    item = client.post(
        "/api/v1/inbox",
        json={"channel_id": str(insta.id), "author": "@bea", "body": "Open on Sunday?"},
        headers=desk.h("staff"),
    )
    assert item.status_code == 201, item.get_json()
    r = client.post(
        f"/api/v1/inbox/{item.get_json()['id']}/reply",
        json={"body": "Yes, 9-13."},
        headers=desk.h("staff"),
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["kind"] == "reply"
