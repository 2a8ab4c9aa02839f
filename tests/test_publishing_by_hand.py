# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""A post for automatic channels and a manual one: it ends like any other once the manual one
is marked published, the failure is e-mailed as soon as the automatic channels have ended,
and a retry is refused while the channel cannot publish."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.db import db
from tenants.context import tenant_context
from tenants.models import User
from tests.factories import make_channel
from tests.helpers import csrf_from
from tests.publishing_support import Shop, _mail_app, mailing_app, mastodon, sent  # noqa: F401
from tests.world import sign_in

LINK = "https://forum.example/t/hello/1"


def _publish_automatic(shop: Shop, post_id: uuid.UUID, channel_ids: list) -> list[str]:
    """What the worker runs: a job per automatic target (manual ones get none)."""
    from agency.publishing.jobs import publish_target

    targets = shop.targets(post_id)
    return [publish_target(str(shop.agency_id), str(targets[c].id), 1) for c in channel_ids]


def _web_as_manager(app, shop: Shop):  # noqa: ANN202
    web = app.test_client()
    with tenant_context(shop.agency_id):
        manager = db.session.scalar(select(User).where(User.id == shop.manager_id))
    sign_in(web, manager)
    return web


def _slug(shop: Shop) -> str:
    return shop._fresh()[0].slug


def _forum(shop: Shop, name: str = "Forum") -> uuid.UUID:
    return make_channel(*shop._fresh(), network="manual", name=name).id


def _mark(web, shop: Shop, post_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN202
    page = f"/a/{_slug(shop)}/posts/{post_id}"
    html = web.get(page).get_data(as_text=True)
    return web.post(
        f"{page}/manual-publish",
        data={"csrf_token": csrf_from(html), "channel_id": str(channel_id), "url": LINK},
    )


def _failure_mails(sent: list, shop: Shop) -> list:
    with tenant_context(shop.agency_id):
        email = db.session.scalar(select(User.email).where(User.id == shop.manager_id))
    return [m for m in sent if email in m["To"] and "Toots" in str(m)]


def test_a_failed_channel_and_a_manual_one_end_partially_published_and_are_emailed(
    app, mastodon, sent
):
    shop = Shop()
    toots, forum = shop.mastodon(mastodon), _forum(shop)
    mastodon.fail("POST", "/api/v1/statuses", 422, {"error": "Validation failed: Nope"})
    post_id = shop.approved_post([toots, forum], "Both ways")
    assert _publish_automatic(shop, post_id, [toots]) == ["failed"]
    # The manual channel still waits: the post is publishing, but the failure is known now.
    assert shop.post(post_id).status == "publishing"
    mails = _failure_mails(sent, shop)
    assert len(mails) == 1, [m["Subject"] for m in sent]
    body = mails[0].get_body(("plain",)).get_content()
    assert "Validation failed: Nope" in body and "by hand on: Forum" in body
    web = _web_as_manager(app, shop)
    # The e-mail asks for a retry: the page offers it while the manual channel still waits.
    waiting = web.get(f"/a/{_slug(shop)}/posts/{post_id}").get_data(as_text=True)
    assert "Retry publishing on Toots" in waiting
    assert _mark(web, shop, post_id, forum).status_code == 302
    assert shop.targets(post_id)[forum].status == "published"
    assert shop.post(post_id).status == "partially_published"
    assert len(_failure_mails(sent, shop)) == 1  # told once, not again on the manual mark
    page = web.get(f"/a/{_slug(shop)}/posts/{post_id}").get_data(as_text=True)
    assert "Retry publishing on Toots" in page


def test_the_manual_one_marked_last_publishes_the_post_when_the_rest_went_out(app, mastodon):
    shop = Shop()
    toots, forum = shop.mastodon(mastodon), _forum(shop)
    post_id = shop.approved_post([toots, forum], "Both ways")
    assert _publish_automatic(shop, post_id, [toots]) == ["published"]
    assert shop.post(post_id).status == "publishing"
    assert _mark(_web_as_manager(app, shop), shop, post_id, forum).status_code == 302
    assert shop.post(post_id).status == "published"


def test_the_manual_one_marked_first_waits_for_the_automatic_outcome(app, mastodon, sent):
    shop = Shop()
    toots, forum = shop.mastodon(mastodon), _forum(shop)
    mastodon.fail("POST", "/api/v1/statuses", 422, {"error": "Validation failed: Nope"})
    post_id = shop.approved_post([toots, forum], "Both ways")
    assert _mark(_web_as_manager(app, shop), shop, post_id, forum).status_code == 302
    assert shop.post(post_id).status == "scheduled"  # the automatic channel has not run yet
    assert _publish_automatic(shop, post_id, [toots]) == ["failed"]
    assert shop.post(post_id).status == "partially_published"
    assert len(_failure_mails(sent, shop)) == 1


def _set_channel_status(shop: Shop, channel_id: uuid.UUID, status: str) -> None:
    from sqlalchemy import update

    from agency.channels.models import Channel

    with tenant_context(shop.agency_id):
        db.session.execute(update(Channel).where(Channel.id == channel_id).values(status=status))
        db.session.commit()


@pytest.mark.parametrize(
    ("status", "pointer", "refusal"),
    [
        ("needs_reconnect", "Reconnect the channel first", "Toots needs reconnecting"),
        ("disabled", "Enable the channel first", "Toots is disabled"),
    ],
)
def test_no_retry_on_a_channel_that_cannot_publish(app, mastodon, sent, status, pointer, refusal):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.fail("POST", "/api/v1/statuses", 422, {"error": "Validation failed: Nope"})
    post_id = shop.approved_post([toots], "Refused")
    assert _publish_automatic(shop, post_id, [toots]) == ["failed"]
    _set_channel_status(shop, toots, status)
    mailed = len(sent)
    web = _web_as_manager(app, shop)
    page = web.get(f"/a/{_slug(shop)}/posts/{post_id}").get_data(as_text=True)
    assert "Retry publishing on Toots" not in page
    assert pointer in page
    edit_link = f"/clients/{shop.client_id}/channels/{toots}/edit"
    list_link = f'href="/a/{_slug(shop)}/clients/{shop.client_id}/channels/"'
    assert (edit_link in page) if status == "needs_reconnect" else (list_link in page)
    # A forced POST is refused with the reason and changes nothing.
    response = web.post(
        f"/a/{_slug(shop)}/posts/{post_id}/channels/{toots}/retry",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert refusal in response.get_data(as_text=True)
    assert shop.targets(post_id)[toots].status == "failed"
    assert shop.post(post_id).status == "failed"
    assert len(sent) == mailed
    assert len(mastodon.statuses) == 0


def _italian(shop: Shop) -> None:
    from sqlalchemy import update

    from tenants.models import Agency

    with tenant_context(shop.agency_id):
        db.session.execute(
            update(Agency).where(Agency.id == shop.agency_id).values(default_locale="it")
        )
        db.session.commit()


def test_our_failure_reasons_are_stored_in_the_agencys_language(app, mastodon):
    shop = Shop()
    _italian(shop)
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Off")
    _set_channel_status(shop, toots, "disabled")
    assert _publish_automatic(shop, post_id, [toots]) == ["failed"]
    assert shop.targets(post_id)[toots].last_error == "Il canale Toots non è collegato."


def test_refused_credentials_read_in_the_agencys_language_and_mail_links_the_channel(
    app, mastodon, sent
):
    from agency.channels.models import Channel

    shop = Shop()
    _italian(shop)
    toots = shop.mastodon(mastodon, token="revoked-token")
    post_id = shop.approved_post([toots], "Revoked")
    assert _publish_automatic(shop, post_id, [toots]) == ["failed"]
    error = shop.targets(post_id)[toots].last_error
    assert error.startswith("Toots va ricollegato") and "The access token is invalid" in error
    with tenant_context(shop.agency_id):
        channel = db.session.scalar(select(Channel).where(Channel.id == toots))
        assert channel.status == "needs_reconnect"
        assert channel.check_error == "The access token is invalid"  # the network's words
    reconnect = [m for m in sent if "Toots" in m["Subject"] and "ricollega" in m["Subject"].lower()]
    assert reconnect, [m["Subject"] for m in sent]
    body = reconnect[0].get_body(("plain",)).get_content()
    assert f"/clients/{shop.client_id}/channels/{toots}/edit" in body


def _notifications(shop: Shop, event: str) -> list:
    from agency.notifications.models import Notification

    with tenant_context(shop.agency_id):
        return list(
            db.session.scalars(
                select(Notification).where(
                    Notification.event == event, Notification.user_id == shop.manager_id
                )
            )
        )


def _due_mails(sent: list, shop: Shop) -> list:
    """The manager's (owners and the post's author get theirs too)."""
    with tenant_context(shop.agency_id):
        email = db.session.scalar(select(User.email).where(User.id == shop.manager_id))
    return [m for m in sent if "due to be published by hand" in m["Subject"] and email in m["To"]]


def test_a_manual_post_whose_time_came_is_announced_once_and_shown_as_due(app, sent, monkeypatch):
    from datetime import timedelta

    from agency.channels import manual
    from agency.db import utcnow
    from agency.publishing import service

    shop = Shop()
    forum = _forum(shop)
    later = shop.approved_post([forum], "Not yet", due_in=3600)
    post_id = shop.approved_post([forum], "By hand")
    web = _web_as_manager(app, shop)
    before = web.get(f"/a/{_slug(shop)}/posts/{later}").get_data(as_text=True)
    assert "Due now" not in before
    assert service.sweep()["by_hand"] == 1
    assert shop.post(post_id).status == "publishing"
    assert shop.post(later).status == "scheduled"  # its time has not come
    assert len(_notifications(shop, "due_by_hand")) == 1
    mails = _due_mails(sent, shop)
    assert len(mails) == 1 and "Forum" in mails[0].get_body(("plain",)).get_content()
    assert service.sweep()["by_hand"] == 0  # told once
    assert len(_due_mails(sent, shop)) == 1 and len(_notifications(shop, "due_by_hand")) == 1
    # approved_post moved the post's time, not its (immutable) revision's, which the page
    # reads: the page is looked at once the revision's time has come too.
    monkeypatch.setattr(manual, "utcnow", lambda: utcnow() + timedelta(hours=2, minutes=1))
    page = web.get(f"/a/{_slug(shop)}/posts/{post_id}").get_data(as_text=True)
    assert "Due now: publish the approved text on Forum by hand" in page
    assert "Due to be published by hand" in page  # the timeline
    listing = web.get(f"/a/{_slug(shop)}/notifications/").get_data(as_text=True)
    assert "Due to be published by hand" in listing
    assert _mark(web, shop, post_id, forum).status_code == 302
    assert shop.post(post_id).status == "published"
    page = web.get(f"/a/{_slug(shop)}/posts/{post_id}").get_data(as_text=True)
    assert "Due now" not in page


def test_a_publishing_failure_is_an_in_app_notification_too(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.fail("POST", "/api/v1/statuses", 422, {"error": "Validation failed: Nope"})
    post_id = shop.approved_post([toots], "Refused")
    assert _publish_automatic(shop, post_id, [toots]) == ["failed"]
    (notice,) = _notifications(shop, "publishing_failed")
    assert notice.post_id == post_id
    listing = _web_as_manager(app, shop).get(f"/a/{_slug(shop)}/notifications/")
    assert "Publishing failed" in listing.get_data(as_text=True)
