# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""What people see of publishing: the retry button (managers only) and the failure e-mail
that links straight to the post."""

from __future__ import annotations

from sqlalchemy import select

from agency.db import db
from tenants.context import tenant_context
from tenants.models import Role, User
from tests.factories import make_member
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
    from tests.helpers import csrf_from

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
    from tests.helpers import csrf_from

    response = web.post(
        f"/a/{slug}/posts/{post_id}/channels/{toots}/retry", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 403
    assert shop.targets(post_id)[toots].status == "failed"
    assert mastodon.statuses == []


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
