# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""What people see of publishing: the retry button (managers only) and the failure e-mail
that links straight to the post."""

from __future__ import annotations

import itertools

from sqlalchemy import select, update

from agency.channels.models import Channel, ChannelStatus
from agency.content.models import Post, PostStatus, PostTarget, TargetStatus
from agency.db import db
from agency.publishing.service import retry_refusal
from tenants.context import tenant_context
from tenants.models import Role, User
from tests.factories import make_member
from tests.helpers import csrf_from
from tests.publishing_support import (  # noqa: F401
    Shop,
    _publishing_app,
    app,
    mastodon,
    run_publish,
)
from tests.world import sign_in


def _failed_post(shop: Shop, mastodon):  # noqa: ANN001, ANN202
    toots = shop.mastodon(mastodon)
    mastodon.fail("POST", "/api/v1/statuses", 503, {"error": "Down"}, times=1)
    mastodon.fail("POST", "/api/v1/statuses", 422, {"error": "Validation failed: Nope"})
    post_id = shop.approved_post([toots], "Try me")
    # 503 then the lookup (same key) answers 422: failed with the network's words.
    run_publish(shop, post_id)
    return toots, post_id


def test_a_manager_retries_a_failed_target_and_it_goes_out(app, mastodon):
    shop = Shop()
    toots, post_id = _failed_post(shop, mastodon)
    assert shop.targets(post_id)[toots].status == "failed"
    web = app.test_client()
    with tenant_context(shop.agency_id):
        manager = db.session.scalar(select(User).where(User.id == shop.manager_id))
    sign_in(web, manager)
    slug = shop.agency.slug
    page = web.get(f"/a/{slug}/posts/{post_id}").get_data(as_text=True)
    assert "Retry publishing on Toots" in page and "Validation failed: Nope" in page

    response = web.post(
        f"/a/{slug}/posts/{post_id}/channels/{toots}/retry", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    assert shop.targets(post_id)[toots].status == "scheduled"
    assert run_publish(shop, post_id) == ["published"]  # the job the retry scheduled
    assert shop.targets(post_id)[toots].status == "published"
    assert shop.post(post_id).status == "published"
    assert len(mastodon.statuses) == 1


def test_staff_see_no_retry_button_and_cannot_retry(app, mastodon):
    shop = Shop()
    toots, post_id = _failed_post(shop, mastodon)
    staff = make_member(shop.agency, Role.STAFF, assigned=[shop.client])
    web = app.test_client()
    sign_in(web, staff)
    slug = shop.agency.slug
    page = web.get(f"/a/{slug}/posts/{post_id}").get_data(as_text=True)
    assert "Retry publishing" not in page

    response = web.post(
        f"/a/{slug}/posts/{post_id}/channels/{toots}/retry", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 403
    assert shop.targets(post_id)[toots].status == "failed"
    assert mastodon.statuses == []


def _set_states(shop: Shop, post_id, channel_id, states: tuple) -> None:  # noqa: ANN001
    post_status, approved, target_status, channel_status = states
    db.session.rollback()
    with tenant_context(shop.agency_id):
        revision = db.session.scalar(select(Post.revision).where(Post.id == post_id))
        db.session.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(status=post_status, approved_revision=revision if approved else None)
        )
        db.session.execute(
            update(PostTarget).where(PostTarget.post_id == post_id).values(status=target_status)
        )
        db.session.execute(
            update(Channel).where(Channel.id == channel_id).values(status=channel_status)
        )
        db.session.commit()


# What the rule accepts: a failed target of the approved text on a connected channel, of a
# post being or done being published.
ACCEPTED = {
    (status, True, "failed", "connected")
    for status in ("publishing", "failed", "partially_published")
}
DIMENSIONS = (
    [s.value for s in PostStatus],
    [True, False],
    [t.value for t in TargetStatus],
    [c.value for c in ChannelStatus],
)


def test_the_retry_rule_accepts_exactly_a_failed_target_of_the_approved_text():
    """Every post status x approved or not x target status x channel status."""
    combinations = list(itertools.product(*DIMENSIONS))
    assert len(combinations) == 12 * 2 * 5 * 3
    accepted = {
        (post, approved, target, channel)
        for post, approved, target, channel in combinations
        if retry_refusal(post, 3 if approved else None, 3, target, channel) is None
    }
    assert accepted == ACCEPTED


def _boundary() -> list[tuple]:
    """The accepted combinations and every combination one state away from one of them: where
    a page and a POST that followed different rules would disagree."""
    near = set(ACCEPTED)
    for states in ACCEPTED:
        for index, values in enumerate(DIMENSIONS):
            near.update(states[:index] + (value,) + states[index + 1 :] for value in values)
    return sorted(near, key=repr)


def test_the_retry_button_shows_exactly_when_the_retry_is_accepted(app, mastodon):
    """At the rule's boundary (``_boundary``, 33 of the 360 states): the manager's page offers
    the retry iff the POST is accepted, and neither answers a 500. Page and POST both follow
    ``service.retry_refusal``, checked over all 360 states above."""
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Try me")
    web = app.test_client()
    with tenant_context(shop.agency_id):
        manager = db.session.scalar(select(User).where(User.id == shop.manager_id))
    sign_in(web, manager)
    url = f"/a/{shop.agency.slug}/posts/{post_id}"
    combinations = _boundary()
    shown, accepted = set(), set()
    for states in combinations:
        _set_states(shop, post_id, toots, states)
        page = web.get(url)
        assert page.status_code == 200, states
        html = page.get_data(as_text=True)
        if "Retry publishing on Toots" in html:
            shown.add(states)
        response = web.post(f"{url}/channels/{toots}/retry", data={"csrf_token": csrf_from(html)})
        assert response.status_code in (302, 303), (states, response.status_code)
        if response.status_code == 302:
            assert shop.targets(post_id)[toots].status == "scheduled", states
            accepted.add(states)
    assert shown == accepted == ACCEPTED
    # Every post status, target status and channel status, approved and not, is exercised.
    for index, values in enumerate(DIMENSIONS):
        assert {states[index] for states in combinations} == set(values)


def test_a_failed_post_is_emailed_to_managers_with_a_link_to_it(smtp, mastodon):
    # This app refuses loopback destinations: the call is refused, the target fails.
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Refused")
    assert run_publish(shop, post_id) == ["failed"]
    to_manager = [m for m in smtp.messages if shop.manager.email in m["To"]]
    assert to_manager, [m["To"] for m in smtp.messages]
    body = to_manager[0].get_body(("plain",)).get_content()
    assert f"/a/{shop.agency.slug}/posts/{post_id}" in body
    assert "Toots" in body
    assert mastodon.requests == []
