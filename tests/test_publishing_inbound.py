# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""Inbound sync into the inbox (once per item, cursor per channel) and replies that go out
with the right parent on each network."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from agency.content import inbox
from agency.content.models import InboxItem, Post
from agency.db import db, utcnow
from agency.publishing.jobs import sync_inbound
from agency.publishing.models import ChannelSync
from tenants.context import tenant_context
from tests.publishing_support import (  # noqa: F401
    Shop,
    _publishing_app,
    app,
    bluesky,
    mastodon,
    run_publish,
)


def _items(shop: Shop, channel_id) -> list[InboxItem]:  # noqa: ANN001
    db.session.rollback()
    with tenant_context(shop.agency_id):
        rows = db.session.scalars(
            select(InboxItem).where(InboxItem.channel_id == channel_id).order_by(InboxItem.body)
        ).all()
        for row in rows:
            db.session.expunge(row)
        db.session.rollback()
        return rows


def _reply_now(shop: Shop, item_id, body: str):  # noqa: ANN001, ANN202
    """Reply from the inbox (approved at once under this policy), due now."""
    access = shop.access()
    with tenant_context(shop.agency_id):
        post = inbox.reply(
            access, item_id, {"body": body, "scheduled_at": utcnow() + timedelta(hours=1)}
        )
        post_id = post.id
        db.session.execute(update(Post).where(Post.id == post_id).values(scheduled_at=utcnow()))
        db.session.commit()
    return post_id


def test_mastodon_mentions_land_in_the_inbox_once_even_when_fetched_twice(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.add_mention("Are you open on Sunday?")
    mastodon.add_mention("Loved the <b>pizza</b> &amp; wine")
    agency = str(shop.agency_id)
    assert sync_inbound(agency, str(toots)) == 2
    with tenant_context(shop.agency_id):  # the cursor lost: the same page comes again
        db.session.execute(update(ChannelSync).values(cursor=None))
        db.session.commit()
    assert sync_inbound(agency, str(toots)) == 0
    items = _items(shop, toots)
    assert [i.body for i in items] == [
        "@bella Are you open on Sunday?",
        "@bella Loved the pizza & wine",
    ]
    assert items[0].author == "A Fan (@fan@other.example)"
    newest = mastodon.add_mention("One more")
    assert sync_inbound(agency, str(toots)) == 1
    assert mastodon.calls("GET", "/api/v1/notifications")[-1].arg("min_id") is not None
    assert len(_items(shop, toots)) == 3 and newest["status"]["id"] in {
        i.external_id for i in _items(shop, toots)
    }


def test_a_reply_on_mastodon_answers_the_mention(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    note = mastodon.add_mention("Gluten free options?")
    sync_inbound(str(shop.agency_id), str(toots))
    (item,) = _items(shop, toots)
    post_id = _reply_now(shop, item.id, "Yes, every day!")
    assert run_publish(shop, post_id) == ["published"]
    (status,) = mastodon.statuses
    assert status["in_reply_to_id"] == note["status"]["id"] == item.external_id
    assert shop.post(post_id).status == "published"


def test_bluesky_replies_sync_once_and_our_answer_carries_root_and_parent(app, bluesky):
    shop = Shop()
    sky = shop.bluesky(bluesky)
    ours = shop.approved_post([sky], "New menu today")
    run_publish(shop, ours)
    root_uri = bluesky.posts()[0]["uri"]
    fan = bluesky.add_reply("What is on it?", parent_uri=root_uri)
    agency = str(shop.agency_id)
    assert sync_inbound(agency, str(sky)) == 1
    with tenant_context(shop.agency_id):
        db.session.execute(update(ChannelSync).values(cursor=None))
        db.session.commit()
    assert sync_inbound(agency, str(sky)) == 0
    (item,) = _items(shop, sky)
    assert item.external_id == fan["uri"] and item.body == "What is on it?"
    post_id = _reply_now(shop, item.id, "Lasagne and tiramisù")
    assert run_publish(shop, post_id) == ["published"]
    answer = next(r for r in bluesky.posts() if r["value"]["text"] == "Lasagne and tiramisù")
    reply = answer["value"]["reply"]
    assert reply["parent"] == {"uri": fan["uri"], "cid": fan["cid"]}
    assert reply["root"] == {"uri": root_uri, "cid": bluesky.records[root_uri]["cid"]}
