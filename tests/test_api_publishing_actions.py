# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""The API's two publishing actions, as the post page's: retry a failed channel
(``POST /api/v1/posts/{id}/targets/{channel_id}/retry``) and record a publication by hand
(``.../published``), with the same permission rules and the same outcomes as the web."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from agency.db import db
from tenants.context import tenant_context
from tenants.models import Role, User
from tests.factories import make_channel, token_for
from tests.helpers import bearer
from tests.publishing_support import Shop, _publishing_app, app, mastodon  # noqa: F401
from tests.world import csrf_token, sign_in

LINK = "https://forum.example/t/hello/1"
NOPE = {"error": "Validation failed: Nope"}


def _publish(shop: Shop, post_id: uuid.UUID, channel_ids: list) -> list[str]:
    """What the worker runs for these targets (a manual one gets no job)."""
    from agency.publishing.jobs import publish_target

    targets = shop.targets(post_id)
    return [publish_target(str(shop.agency_id), str(targets[c].id), 1) for c in channel_ids]


def _forum(shop: Shop, name: str = "Forum") -> uuid.UUID:
    return make_channel(*shop._fresh(), network="manual", name=name).id


def _user(shop: Shop, user_id: uuid.UUID) -> User:
    with tenant_context(shop.agency_id):
        return db.session.scalar(select(User).where(User.id == user_id))


def _token(shop: Shop, user: User) -> dict[str, str]:
    agency, _client = shop._fresh()
    return bearer(token_for(user, agency))


def _manager(shop: Shop) -> dict[str, str]:
    return _token(shop, _user(shop, shop.manager_id))


def _retry(app, shop: Shop, post_id, channel_id, auth: dict):  # noqa: ANN001, ANN202
    url = f"/api/v1/posts/{post_id}/targets/{channel_id}/retry"
    return app.test_client().post(url, headers=auth)


def _published(app, post_id, channel_id, auth: dict, body: object = None):  # noqa: ANN001, ANN202
    url = f"/api/v1/posts/{post_id}/targets/{channel_id}/published"
    body = {"url": LINK} if body is None else body
    return app.test_client().post(url, json=body, headers=auth)


def _rows(shop: Shop, model) -> int:  # noqa: ANN001
    with tenant_context(shop.agency_id):
        count = db.session.scalar(select(func.count()).select_from(model))
        db.session.rollback()
        return count


def _target(body: dict, channel_id: uuid.UUID) -> dict:
    return next(t for t in body["targets"] if t["channel_id"] == str(channel_id))


# -- retry ----------------------------------------------------------------------------------


def test_api_retry_sends_again_only_the_failed_target(app, mastodon):
    shop = Shop()
    toots, toots2 = shop.mastodon(mastodon), shop.mastodon(mastodon, name="Toots 2")
    mastodon.fail("POST", "/api/v1/statuses", 422, NOPE)  # the first call only
    post_id = shop.approved_post([toots, toots2], "One failed")
    assert _publish(shop, post_id, [toots, toots2]) == ["failed", "published"]
    assert shop.post(post_id).status == "partially_published"
    published = shop.targets(post_id)[toots2].external_id

    response = _retry(app, shop, post_id, toots, _manager(shop))
    assert response.status_code == 200, response.json
    assert response.json["id"] == str(post_id) and response.json["status"] == "publishing"
    assert _target(response.json, toots)["status"] == "scheduled"
    assert _target(response.json, toots2)["status"] == "published"

    assert _publish(shop, post_id, [toots]) == ["published"]  # the job the retry scheduled
    targets = shop.targets(post_id)
    assert targets[toots].status == "published"
    assert targets[toots2].external_id == published  # the other target left as it was
    assert shop.post(post_id).status == "published"
    assert len(mastodon.statuses) == 2  # one per channel: the published one was not re-sent


def test_api_retry_of_a_target_that_did_not_fail_is_409_in_words(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Fine")
    assert _publish(shop, post_id, [toots]) == ["published"]
    response = _retry(app, shop, post_id, toots, _manager(shop))
    assert response.status_code == 409
    assert response.json["code"] == 409 and response.json["status"] == "Conflict"
    assert "Only a failed target of the approved text can be retried" in response.json["message"]
    assert shop.targets(post_id)[toots].status == "published"
    assert len(mastodon.statuses) == 1


def test_api_retry_on_a_channel_that_needs_reconnecting_is_409_and_says_so(app, mastodon):
    from sqlalchemy import update

    from agency.channels.models import Channel

    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.fail("POST", "/api/v1/statuses", 422, NOPE)
    post_id = shop.approved_post([toots], "Refused")
    assert _publish(shop, post_id, [toots]) == ["failed"]
    with tenant_context(shop.agency_id):
        db.session.execute(
            update(Channel).where(Channel.id == toots).values(status="needs_reconnect")
        )
        db.session.commit()
    response = _retry(app, shop, post_id, toots, _manager(shop))
    assert response.status_code == 409
    assert "Toots needs reconnecting" in response.json["message"]
    assert shop.targets(post_id)[toots].status == "failed"


def test_api_retry_of_a_channel_the_post_does_not_target_is_404(app, mastodon):
    shop = Shop()
    toots, other = shop.mastodon(mastodon), shop.mastodon(mastodon, name="Other")
    mastodon.fail("POST", "/api/v1/statuses", 422, NOPE)
    post_id = shop.approved_post([toots], "Refused")
    assert _publish(shop, post_id, [toots]) == ["failed"]
    auth = _manager(shop)
    assert _retry(app, shop, post_id, other, auth).status_code == 404
    assert _retry(app, shop, uuid.uuid4(), toots, auth).status_code == 404
    assert shop.targets(post_id)[toots].status == "failed"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.STAFF, 403),  # sees the post, may not retry (as the web)
        (Role.CLIENT_MANAGER, None),  # whatever the web answers it
        (Role.FINANCE, 403),  # a role without content at all
    ],
)
def test_api_retry_is_refused_to_roles_the_web_refuses(app, mastodon, role, status):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.fail("POST", "/api/v1/statuses", 422, NOPE)
    post_id = shop.approved_post([toots], "Refused")
    assert _publish(shop, post_id, [toots]) == ["failed"]
    agency, client = shop._fresh()
    from tests.factories import make_member

    if role == Role.CLIENT_MANAGER:
        member = make_member(agency, role, client=client)
    else:
        member = make_member(agency, role, assigned=[client] if role == Role.STAFF else None)
    web = app.test_client()
    sign_in(web, member)
    page = f"/a/{agency.slug}/posts/{post_id}"
    by_web = web.post(f"{page}/channels/{toots}/retry", data={"csrf_token": csrf_token(web)})
    assert by_web.status_code in (403, 404)

    response = _retry(app, shop, post_id, toots, _token(shop, member))
    assert response.status_code == (status or by_web.status_code) == by_web.status_code
    assert response.json["code"] == response.status_code and response.json["message"]
    assert shop.targets(post_id)[toots].status == "failed"
    assert shop.post(post_id).status == "failed"


# -- published by hand ----------------------------------------------------------------------


def test_api_marks_a_manual_channel_published_and_the_post_ends_published(app, mastodon):
    shop = Shop()
    toots, forum = shop.mastodon(mastodon), _forum(shop)
    post_id = shop.approved_post([toots, forum], "Both ways")
    assert _publish(shop, post_id, [toots]) == ["published"]
    assert shop.post(post_id).status == "publishing"  # the manual channel still waits

    response = _published(app, post_id, forum, _manager(shop))
    assert response.status_code == 200, response.json
    assert response.json["status"] == "published"
    mark = _target(response.json, forum)
    assert mark["status"] == "published" and mark["external_url"] == LINK
    assert shop.post(post_id).status == "published"
    assert shop.targets(post_id)[forum].external_url == LINK


def test_api_manual_mark_after_a_failed_channel_ends_partially_published(app, mastodon):
    from billing.usage import UsageRecord

    shop = Shop()
    toots, forum = shop.mastodon(mastodon), _forum(shop)
    mastodon.fail("POST", "/api/v1/statuses", 422, NOPE)
    post_id = shop.approved_post([toots, forum], "Both ways")
    assert _publish(shop, post_id, [toots]) == ["failed"]
    auth = _manager(shop)
    response = _published(app, post_id, forum, auth)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "partially_published"
    assert _rows(shop, UsageRecord) == 1  # the manual publication is billed once
    # Sent again: the link is corrected, nothing is billed twice (as the web form).
    again = _published(app, post_id, forum, auth, {"url": "https://forum.example/t/hello/2"})
    assert again.status_code == 200
    assert _target(again.json, forum)["external_url"] == "https://forum.example/t/hello/2"
    assert _rows(shop, UsageRecord) == 1


def test_api_published_on_an_automatic_channel_is_409_and_on_an_untargeted_one_404(app, mastodon):
    shop = Shop()
    toots, forum, elsewhere = shop.mastodon(mastodon), _forum(shop), _forum(shop, "Elsewhere")
    post_id = shop.approved_post([toots, forum], "Both ways")
    auth = _manager(shop)
    response = _published(app, post_id, toots, auth)
    assert response.status_code == 409
    assert "only a manual channel is marked published" in response.json["message"]
    assert _published(app, post_id, elsewhere, auth).status_code == 404
    assert _published(app, uuid.uuid4(), forum, auth).status_code == 404
    targets = shop.targets(post_id)
    assert targets[toots].status == targets[forum].status == "scheduled"


def test_api_published_on_a_post_not_yet_approved_is_409(app):
    from agency.content import service

    shop = Shop()
    forum = _forum(shop)
    with tenant_context(shop.agency_id):
        post = service.create_post(
            shop.access(), {"client_id": shop.client_id, "body": "Draft", "channel_ids": [forum]}
        )
        post_id = post.id
    response = _published(app, post_id, forum, _manager(shop))
    assert response.status_code == 409
    assert response.json["message"] == "Only an approved post can be marked published."
    assert shop.post(post_id).status == "draft"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": ""},
        {"url": "forum.example/t/1"},
        {"url": "javascript:alert(1)"},
        {"url": "ftp://forum.example/t/1"},
        {"url": "https://"},
        {"url": "https://:80/t/1"},
        {"url": "https://forum.example/a b"},
        {"url": "https://forum.example/" + "x" * 2000},
        {"url": 42},
    ],
    ids=lambda b: repr(b)[:30],
)
def test_api_published_with_a_bad_url_is_422_and_changes_nothing(app, mastodon, body):
    from agency.audit import AuditEvent
    from billing.usage import UsageRecord

    shop = Shop()
    forum = _forum(shop)
    post_id = shop.approved_post([forum], "By hand")
    audit_before = _rows(shop, AuditEvent)
    response = _published(app, post_id, forum, _manager(shop), body)
    assert response.status_code == 422, response.json
    assert response.json["code"] == 422 and "url" in response.json["errors"]["json"]
    assert shop.targets(post_id)[forum].status == "scheduled"
    assert shop.post(post_id).status == "scheduled"
    assert _rows(shop, UsageRecord) == 0 and _rows(shop, AuditEvent) == audit_before


@pytest.mark.parametrize(
    ("role", "assigned", "status"),
    [
        (Role.STAFF, True, 200),  # staff of the client record it, as on the web
        (Role.STAFF, False, 404),  # staff of other clients do not see the post
        (Role.CLIENT_MANAGER, None, None),  # whatever the web answers it (refused)
        (Role.FINANCE, None, None),
    ],
)
def test_api_published_follows_the_webs_permission_rules(app, role, assigned, status):
    from tests.factories import make_client, make_member

    shop = Shop()
    forum = _forum(shop)
    post_id = shop.approved_post([forum], "By hand")
    agency, client = shop._fresh()
    if role == Role.CLIENT_MANAGER:
        member = make_member(agency, role, client=client)
    elif role == Role.STAFF:
        other = make_client(agency, "Elsewhere Ltd")
        member = make_member(agency, role, assigned=[client if assigned else other])
    else:
        member = make_member(agency, role)
    if status is None:  # the web's answer to the same person
        web = app.test_client()
        sign_in(web, member)
        page = f"/a/{agency.slug}/posts/{post_id}"
        data = {"csrf_token": csrf_token(web), "channel_id": str(forum), "url": LINK}
        by_web = web.post(f"{page}/manual-publish", data=data)
        assert by_web.status_code in (403, 404)
        assert shop.targets(post_id)[forum].status == "scheduled"
        status = by_web.status_code
    response = _published(app, post_id, forum, _token(shop, member))
    assert response.status_code == status, response.json
    expected = "published" if status == 200 else "scheduled"
    assert shop.targets(post_id)[forum].status == expected
