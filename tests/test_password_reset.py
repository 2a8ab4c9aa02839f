"""Finding 5: password reset by e-mail (hashed, single-use, expiring, throttled)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select

from agency.db import db, utcnow
from tenants import service
from tenants.models import ApiToken, PasswordReset, Role, User
from tests.factories import PASSWORD, make_agency, make_member, token_for
from tests.helpers import AuthActions, bearer, csrf_from, form_post

NEW = "a fresh long password"
LINK_RE = re.compile(r"https?://[^/\s]+(/password/reset/[A-Za-z0-9_\-]+)")


def _ask(client, email: str):  # noqa: ANN001, ANN202
    return form_post(client, "/password/forgot", {"email": email})


def _link(message) -> str:  # noqa: ANN001
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = LINK_RE.search(text)
    assert match, text
    return match.group(1)


def _reset(client, path: str, password: str = NEW, revoke: bool = False):  # noqa: ANN001, ANN202
    data = {"new_password": password}
    if revoke:
        data["revoke_tokens"] = "y"
    return form_post(client, path, data)


def test_login_page_links_to_the_reset_page(client, database_url):
    assert 'href="/password/forgot"' in client.get("/login").get_data(as_text=True)


def test_known_and_unknown_addresses_get_the_same_answer(smtp, database_url):
    user = make_member(make_agency(), Role.STAFF, email="known@example.com")
    known = _ask(smtp.client, user.email)
    unknown = _ask(smtp.app.test_client(), "nobody@example.com")

    assert known.status_code == unknown.status_code == 302
    assert known.location == unknown.location
    flash_known = smtp.client.get(known.location).get_data(as_text=True)
    flash_unknown = smtp.app.test_client()
    _ask(flash_unknown, "nobody@example.com")
    assert "If an account uses that address" in flash_known
    assert [m.envelope_rcpt for m in smtp.messages] == [["known@example.com"]]


def test_reset_link_is_hashed_single_use_and_ends_every_session(smtp, database_url):
    user = make_member(make_agency(), Role.STAFF, email="r@example.com")
    signed_in = smtp.app.test_client()
    AuthActions(signed_in).login(user.email)
    _ask(smtp.client, user.email)
    [message] = smtp.messages
    path = _link(message)
    token = path.rsplit("/", 1)[1]
    stored = db.session.scalar(select(PasswordReset))
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()

    browser = smtp.app.test_client()
    assert browser.get(path).status_code == 200
    response = _reset(browser, path)

    assert response.status_code == 302 and "/login" in response.location
    assert signed_in.get("/account").status_code == 302  # the old session ended
    assert service.authenticate(user.email, NEW) is not None
    assert service.authenticate(user.email, PASSWORD) is None
    assert browser.get(path).status_code == 410  # single use
    again = form_post(browser, path, {"new_password": "another password!"}, page="/login")
    assert again.status_code == 410


def test_a_weak_password_is_refused_and_the_link_still_works(smtp, database_url):
    user = make_member(make_agency(), Role.STAFF)
    _ask(smtp.client, user.email)
    path = _link(smtp.messages[0])
    response = _reset(smtp.client, path, password="short")
    assert response.status_code == 422
    assert service.authenticate(user.email, PASSWORD) is not None
    assert smtp.client.get(path).status_code == 200


def test_expired_link_answers_410(smtp, database_url):
    user = make_member(make_agency(), Role.STAFF)
    _ask(smtp.client, user.email)
    path = _link(smtp.messages[0])
    reset = db.session.scalar(select(PasswordReset))
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert smtp.client.get(path).status_code == 410
    assert smtp.client.get("/password/reset/made-up").status_code == 410


def test_reset_can_also_revoke_every_api_token(smtp, database_url):
    agency = make_agency()
    user = make_member(agency, Role.MANAGER)
    kept, revoked = token_for(user, agency), token_for(user, agency)
    _ask(smtp.client, user.email)
    _reset(smtp.client, _link(smtp.messages[0]))
    assert smtp.client.get("/api/v1/me", headers=bearer(kept)).status_code == 200

    _ask(smtp.client, user.email)
    _reset(smtp.client, _link(smtp.messages[1]), password="yet another password", revoke=True)
    assert smtp.client.get("/api/v1/me", headers=bearer(revoked)).status_code == 401
    live = db.session.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all()
    assert [t for t in live if t.user_id == user.id] == []


def test_reset_requests_are_throttled_per_address_and_per_email(make_app, smtp, database_url):
    app = make_app(reset_rate_limit="2 per hour")
    with app.app_context():

        def ask(email: str, addr: str) -> int:
            client = app.test_client()
            html = client.get("/password/forgot").get_data(as_text=True)
            return client.post(
                "/password/forgot",
                data={"csrf_token": csrf_from(html), "email": email},
                environ_base={"REMOTE_ADDR": addr},
            ).status_code

        assert [ask("a@example.com", f"192.0.2.{n}") for n in range(3)] == [302, 302, 429]
        assert [ask(f"b{n}@example.com", "198.51.100.1") for n in range(3)] == [302, 302, 429]


def test_reset_mail_is_in_the_users_language(smtp, database_url):
    user = make_member(make_agency(), Role.STAFF)
    user.locale = "it"
    db.session.commit()
    _ask(smtp.client, user.email)
    [message] = smtp.messages
    assert "password" in message["Subject"].lower()
    assert "Reset" not in message["Subject"]  # Italian, not English
    assert db.session.get(User, user.id).locale == "it"


def test_a_reset_verifies_an_unverified_address(smtp, database_url):
    user = make_member(make_agency(), Role.STAFF)
    user.email_verified_at = None
    db.session.commit()
    _ask(smtp.client, user.email)
    _reset(smtp.client, _link(smtp.messages[0]))
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is not None
