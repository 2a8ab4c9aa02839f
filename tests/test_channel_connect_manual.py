"""Manual channels: staff publish by hand and record the link on the post page; the target is
published once (one usage row), the post is published when every target is out, and only an
approved post, a manual channel and a real http(s) link are accepted."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.content.models import Post, PostTarget
from agency.db import db
from billing.usage import UsageRecord
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.factories import make_channel
from tests.helpers import form_post
from tests.world import sign_in

LINK = "https://forum.example/t/hello-from-bellavista/42"


@pytest.fixture
def desk(database_url):
    return make_desk(client_approval="none", internal_review=False)


@pytest.fixture
def manual(desk):
    channel = make_channel(desk.agency, desk.client, network="manual", name="Forum")
    return str(channel.id)


def _approved_post(client, desk, channel_ids: list[str]) -> str:
    post = draft(client, desk, channel_ids=channel_ids)
    assert act(client, desk, post["id"], "submit", "staff").status_code == 200
    return post["id"]


def _targets(desk, post_id: str) -> dict[str, PostTarget]:
    with tenant_context(desk.ids["agency"]):
        db.session.expire_all()
        of_post = PostTarget.post_id == uuid.UUID(post_id)
        rows = db.session.scalars(select(PostTarget).where(of_post))
        return {str(t.channel_id): t for t in rows}


def _post_status(desk, post_id: str) -> str:
    with tenant_context(desk.ids["agency"]):
        return db.session.scalar(select(Post.status).where(Post.id == uuid.UUID(post_id)))


def _usage(desk) -> int:
    with tenant_context(desk.ids["agency"]):
        return len(db.session.scalars(select(UsageRecord)).all())


def _record(client, desk, post_id, channel_id, url=LINK):
    page = f"/a/{desk.agency.slug}/posts/{post_id}"
    return form_post(
        client,
        f"{page}/manual-publish",
        {"channel_id": channel_id, "url": url},
        page=page,
    )


def test_staff_records_the_link_and_the_post_is_published(client, desk, manual):
    post_id = _approved_post(client, desk, [manual])
    assert _post_status(desk, post_id) == "approved"
    sign_in(client, desk.users["staff"])
    page = client.get(f"/a/{desk.agency.slug}/posts/{post_id}").get_data(as_text=True)
    assert f'id="manual-url-{manual}"' in page and "Mark published" in page
    response = _record(client, desk, post_id, manual)
    assert response.status_code == 302
    target = _targets(desk, post_id)[manual]
    assert target.status == "published" and target.external_url == LINK
    assert target.published_at is not None
    assert _post_status(desk, post_id) == "published"
    assert _usage(desk) == 1
    # Correcting the link later changes the link only: still one usage row.
    assert _record(client, desk, post_id, manual, LINK + "?fixed").status_code == 302
    assert _targets(desk, post_id)[manual].external_url == LINK + "?fixed"
    assert _usage(desk) == 1
    shown = client.get(f"/a/{desk.agency.slug}/posts/{post_id}").get_data(as_text=True)
    assert "View on the network" in shown and "Correct the link" in shown


def test_one_manual_target_of_two_leaves_the_post_waiting(client, desk, manual):
    post_id = _approved_post(client, desk, [manual, desk.ids["mastodon"]])
    sign_in(client, desk.users["manager"])
    assert _record(client, desk, post_id, manual).status_code == 302
    targets = _targets(desk, post_id)
    assert targets[manual].status == "published"
    assert targets[desk.ids["mastodon"]].status != "published"
    assert _post_status(desk, post_id) == "approved"


@pytest.mark.parametrize("url", ["", "javascript:alert(1)", "ftp://x.example/a", "not a link"])
def test_a_bad_link_is_refused_and_nothing_changes(client, desk, manual, url):
    post_id = _approved_post(client, desk, [manual])
    sign_in(client, desk.users["staff"])
    response = _record(client, desk, post_id, manual, url)
    assert response.status_code == 302
    followed = client.get(response.headers["location"]).get_data(as_text=True)
    assert "Enter" in followed  # the field's message, flashed on the post page
    assert _targets(desk, post_id)[manual].status != "published" and _usage(desk) == 0


def test_a_post_not_yet_approved_cannot_be_marked(client, desk, manual):
    post = draft(client, desk, channel_ids=[manual])
    sign_in(client, desk.users["staff"])
    page = client.get(f"/a/{desk.agency.slug}/posts/{post['id']}").get_data(as_text=True)
    assert "manual-publish" not in page
    assert _record(client, desk, post["id"], manual).status_code == 409
    assert _targets(desk, post["id"])[manual].status != "published"


def test_a_network_channel_is_not_manual(client, desk, manual):
    post_id = _approved_post(client, desk, [manual, desk.ids["mastodon"]])
    sign_in(client, desk.users["staff"])
    _record(client, desk, post_id, desk.ids["mastodon"])
    assert _targets(desk, post_id)[desk.ids["mastodon"]].status != "published"


@pytest.mark.parametrize(("who", "status"), [("cm", 403), ("finance", 404), ("other_staff", 404)])
def test_only_the_agency_side_that_drafts_may_record(client, desk, manual, who, status):
    post_id = _approved_post(client, desk, [manual])
    sign_in(client, desk.users[who])
    page = client.get(f"/a/{desk.agency.slug}/posts/{post_id}")
    assert "manual-publish" not in page.get_data(as_text=True)
    html = client.get("/account").get_data(as_text=True)
    from tests.world import CSRF_RE

    token = CSRF_RE.search(html).group(1)
    response = client.post(
        f"/a/{desk.agency.slug}/posts/{post_id}/manual-publish",
        data={"csrf_token": token, "channel_id": manual, "url": LINK},
    )
    assert response.status_code in (status, 403, 404)
    assert _targets(desk, post_id)[manual].status != "published"


def test_a_manual_channel_says_published_by_hand_and_counts_without_a_limit(client, desk, manual):
    from agency.channels.models import Channel
    from agency.db import utcnow

    with tenant_context(desk.ids["agency"]):  # verified, as saving one through the form does
        db.session.get(Channel, uuid.UUID(manual)).verified_at = utcnow()
        db.session.commit()
    post_id = draft(client, desk, channel_ids=[manual])["id"]
    sign_in(client, desk.users["owner"])
    listing = client.get(f"/a/{desk.agency.slug}/clients/{desk.client.id}/channels/")
    page = listing.get_data(as_text=True)
    assert "Published by hand" in page and ">Connected<" not in page
    detail = client.get(f"/a/{desk.agency.slug}/posts/{post_id}").get_data(as_text=True)
    assert "21 characters" in detail and "100000" not in detail
