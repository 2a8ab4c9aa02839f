"""Magic-link review: e-mailed when a post awaits the client, no password, recorded via link."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.content import links
from agency.content.models import Post, ReviewLink
from agency.db import db, utcnow
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.helpers import csrf_from

LINK_RE = re.compile(r"https?://\S+/review/([^\s?]+)")


@pytest.fixture
def loop(smtp, database_url):
    """A post sent to the client: each client manager got an e-mail with a personal link."""
    desk = make_desk()
    http = smtp.client
    post = draft(http, desk, body="Summer menu is here")
    act(http, desk, post["id"], "submit", "staff")
    assert act(http, desk, post["id"], "approve", "manager").get_json()["status"] == (
        "awaiting_client"
    )
    tokens = {}
    for message in smtp.messages:
        body = message.get_body(preferencelist=("plain",)).get_content()
        tokens[message["To"]] = LINK_RE.search(body).group(1)
    return desk, http, post, tokens


def _status(desk, post_id: str) -> tuple:
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        row = db.session.scalar(select(Post).where(Post.id == uuid.UUID(str(post_id))))
        return row.status, row.revision, row.approved_revision


def _post_via_link(http, token: str, post_id: str, action: str, **data):  # noqa: ANN202
    # The session's CSRF token from any form: the link itself may be refused.
    csrf = csrf_from(http.get("/login").get_data(as_text=True))
    return http.post(
        f"/review/{token}/{post_id}/{action}", data={"csrf_token": csrf, "revision": "1", **data}
    )


def test_client_manager_requests_changes_from_the_emailed_link(loop):
    desk, http, post, tokens = loop
    cm = desk.users["cm"]
    assert set(tokens) == {cm.email, desk.users["cm2"].email}
    page = http.get(f"/review/{tokens[cm.email]}")
    assert page.status_code == 200
    assert "Summer menu is here" in page.get_data(as_text=True)
    r = _post_via_link(http, tokens[cm.email], post["id"], "request-changes", comment="Add prices")
    assert r.status_code == 302
    assert _status(desk, post["id"])[0] == "changes_requested"
    with tenant_context(desk.ids["agency"]):
        decided = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "post.decided")
        ).all()
    client_step = [e for e in decided if e.data["step"] == "client"]
    assert [(e.via, str(e.actor_id), e.data["comment"]) for e in client_step] == [
        ("link", str(cm.id), "Add prices")
    ]


@pytest.mark.parametrize(("change", "status"), [("revoked", 403), ("expired", 410)])
def test_revoked_or_expired_link_is_refused_and_changes_nothing(loop, change, status):
    desk, http, post, tokens = loop
    token = tokens[desk.users["cm"].email]
    with tenant_context(desk.ids["agency"]):
        link = db.session.scalar(
            select(ReviewLink).where(ReviewLink.user_id == desk.users["cm"].id)
        )
        if change == "revoked":
            link.revoked_at = utcnow()
        else:
            link.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    before = _status(desk, post["id"])
    assert http.get(f"/review/{token}").status_code == status
    r = _post_via_link(http, token, post["id"], "approve")
    assert r.status_code == status
    assert _status(desk, post["id"]) == before


def test_a_link_for_client_a_cannot_touch_client_b_posts(loop):
    desk, http, _post, tokens = loop
    other = draft(
        http, desk, client_id=desk.ids["other_client"], channel_ids=[desk.ids["other_channel"]],
        who="owner",
    )  # fmt: skip
    before = _status(desk, other["id"])
    r = _post_via_link(http, tokens[desk.users["cm"].email], other["id"], "approve")
    assert r.status_code == 404
    assert _status(desk, other["id"]) == before


def test_a_forged_or_malformed_token_is_404(loop):
    desk, http, _post, tokens = loop
    real = tokens[desk.users["cm"].email]
    agency_part = real.split(".")[0]
    for token in (f"{agency_part}.forged", "nonsense", "x" * 300, f"{'0' * 32}.abc"):
        assert http.get(f"/review/{token}").status_code == 404


def test_client_manager_who_left_can_no_longer_use_the_link(loop):
    from tenants.models import Membership

    desk, http, post, tokens = loop
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == desk.users["cm"].id)
    )
    membership.active = False
    db.session.commit()
    assert http.get(f"/review/{tokens[desk.users['cm'].email]}").status_code == 403
    assert _status(desk, post["id"])[0] == "awaiting_client"


def test_links_store_only_a_hash(loop):
    desk, _http, _post, tokens = loop
    secret = tokens[desk.users["cm"].email].split(".", 1)[1]
    with tenant_context(desk.ids["agency"]):
        hashes = db.session.scalars(select(ReviewLink.token_hash)).all()
    assert secret not in hashes and links._hash(secret) in hashes


def test_link_shows_the_posts_images_but_never_another_clients(loop):
    from tests.content_helpers import tiny_png

    desk, http, post, tokens = loop
    token = tokens[desk.users["cm"].email]
    up = http.post(
        f"/api/v1/clients/{desk.ids['client']}/media",
        data={"file": (io.BytesIO(tiny_png()), "p.png")},
        headers=desk.h("staff"), content_type="multipart/form-data",
    )  # fmt: skip
    ref = up.get_json()["ref"]
    # Not yet in a revision sent to the client: hidden.
    assert http.get(f"/review/{token}/{post['id']}/media/{ref}").status_code == 404
    http.patch(f"/api/v1/posts/{post['id']}", json={"media": [ref]}, headers=desk.h("staff"))
    act(http, desk, post["id"], "approve", "manager")  # revision 2 sent to the client
    assert http.get(f"/review/{token}/{post['id']}/media/{ref}").status_code == 200
    other = draft(
        http, desk, client_id=desk.ids["other_client"], channel_ids=[desk.ids["other_channel"]],
        who="owner",
    )  # fmt: skip
    assert http.get(f"/review/{token}/{other['id']}/media/{ref}").status_code == 404


def test_a_manager_revokes_every_link_of_the_client_from_the_posts_page(loop, app, auth):
    from tests.helpers import form_post

    desk, http, post, tokens = loop
    web = app.test_client()
    auth.__class__(web).login(desk.users["manager"].email)
    page = f"/a/{desk.agency.slug}/posts/?client_id={desk.ids['client']}"
    url = f"/a/{desk.agency.slug}/posts/review-links/{desk.ids['client']}/revoke"
    staff = app.test_client()
    auth.__class__(staff).login(desk.users["staff"].email)
    assert form_post(staff, url, {}, page=page).status_code == 403
    assert form_post(web, url, {}, page=page).status_code == 302
    for token in tokens.values():
        assert http.get(f"/review/{token}").status_code == 403
    assert _status(desk, post["id"])[0] == "awaiting_client"
