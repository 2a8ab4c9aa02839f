"""Finding 6 and the mail-language finding.

A self-signed-up owner verifies their address before they can send invitations (everything
else works); API tokens take an optional expiry and show when they were last used; mail goes
out in the recipient's language (client's language for client roles, else the agency's).
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from agency.db import db, utcnow
from tenants.models import ApiToken, Invitation, Role, User
from tests.factories import PASSWORD, make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post

VERIFY_RE = re.compile(r"https?://[^/\s]+(/verify-email/[A-Za-z0-9_\-.]+)")


def _signup(client, email: str = "founder@example.com"):  # noqa: ANN001, ANN202
    body = {"agency_name": "Fresh Agency", "name": "Founder", "email": email, "password": PASSWORD}
    response = client.post("/api/v1/signup", json=body)
    assert response.status_code == 201, response.json
    return response.json


def _verify_link(messages) -> str:  # noqa: ANN001
    [message] = [m for m in messages if "verify-email" in str(m.get_body(("plain",)))]
    return VERIFY_RE.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)


def test_signup_sends_a_verification_mail_and_invitations_wait_for_it(smtp, database_url):
    body = _signup(smtp.client)
    assert body["user"]["email_verified"] is False
    headers = bearer(body["token"])
    path = _verify_link(smtp.messages)

    refused = smtp.client.post(
        "/api/v1/invitations", json={"email": "x@example.com", "role": "staff"}, headers=headers
    )
    assert refused.status_code == 403
    assert "Verify your e-mail address" in refused.json["message"]
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    # Everything else works meanwhile.
    created = smtp.client.post("/api/v1/clients", json={"name": "Acme"}, headers=headers)
    assert created.status_code == 201

    assert smtp.client.get(path).status_code == 302
    assert smtp.client.get("/api/v1/me", headers=headers).json["user"]["email_verified"] is True
    sent = smtp.client.post(
        "/api/v1/invitations", json={"email": "x@example.com", "role": "staff"}, headers=headers
    )
    assert sent.status_code == 201


def test_web_invite_by_an_unverified_owner_shows_why_and_writes_nothing(client, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    owner.email_verified_at = None
    db.session.commit()
    AuthActions(client).login(owner.email)
    response = form_post(
        client,
        f"/a/{agency.slug}/members/invite",
        {"invite-email": "n@example.com", "invite-role": "manager"},
        page=f"/a/{agency.slug}/members",
    )
    assert response.status_code == 403
    assert "Verify your e-mail address" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0
    account = client.get("/account").get_data(as_text=True)
    assert 'id="verify-email"' in account


def test_verification_links_cannot_be_forged_or_reused_for_another_address(smtp, database_url):
    _signup(smtp.client)
    path = _verify_link(smtp.messages)
    assert smtp.client.get(path[:-3] + "abc").status_code == 410
    user = db.session.scalar(select(User).where(User.email == "founder@example.com"))
    user.email = "changed@example.com"
    db.session.commit()
    assert smtp.client.get(path).status_code == 410
    db.session.expire_all()
    assert db.session.get(User, user.id).email_verified_at is None


def test_resend_verification_from_the_account_page_is_throttled(make_app, smtp, database_url):
    app = make_app(
        verification_resend_rate_limit="1 per hour", smtp_host="127.0.0.1", smtp_port=smtp.port
    )
    with app.app_context():
        agency = make_agency()
        owner = owner_of(agency)
        owner.email_verified_at = None
        db.session.commit()
        client = app.test_client()
        AuthActions(client).login(owner.email)
        first = form_post(client, "/account/verify-email/resend", {}, page="/account")
        second = form_post(client, "/account/verify-email/resend", {}, page="/account")
        assert first.status_code == second.status_code == 302
        assert len([m for m in smtp.messages if "verify-email" in str(m)]) == 1
        assert "Too many attempts" in client.get("/account").get_data(as_text=True)


def test_api_token_with_an_expiry_stops_working_after_it(client, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    expires = (utcnow() + timedelta(days=1)).isoformat()
    body = {
        "email": owner.email,
        "password": PASSWORD,
        "agency": agency.slug,
        "expires_at": expires,
    }
    response = client.post("/api/v1/tokens", json=body)
    assert response.status_code == 201 and response.json["expires_at"]
    token = response.json["token"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "API token"))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_api_token_expiry_in_the_past_or_without_zone_is_422(client, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    base = {"email": owner.email, "password": PASSWORD, "agency": agency.slug}
    past = client.post("/api/v1/tokens", json={**base, "expires_at": "2020-01-01T00:00:00Z"})
    naive = client.post("/api/v1/tokens", json={**base, "expires_at": "2030-01-01T00:00:00"})
    assert past.status_code == 422 and "expires_at" in past.json["errors"]["json"]
    assert naive.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_token_expiry_bounds_are_exact_and_each_refusal_says_why(app, monkeypatch):
    from datetime import UTC, datetime

    from tenants import service

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(service, "utcnow", lambda: now)  # a still clock, to test the bounds
    tick = timedelta(microseconds=1)
    latest = now + timedelta(days=3650)
    with app.test_request_context():
        assert service.token_expiry_problem(None) is None
        assert service.token_expiry_problem(now + tick) is None
        assert service.token_expiry_problem(latest) is None
        assert service.token_expiry_problem(now.replace(tzinfo=None) + timedelta(days=1)) == (
            "Give the expiry with a time zone (e.g. 2027-01-31T00:00:00Z)."
        )
        assert service.token_expiry_problem(now) == "The expiry must be in the future."
        assert service.token_expiry_problem(latest + tick) == (
            "The expiry must be within 3650 days."
        )


def test_tokens_page_sets_an_expiry_and_shows_last_use(client, auth, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    auth.login(owner.email)
    response = form_post(
        client,
        "/account/tokens",
        {"name": "Zapier", "agency": agency.slug, "expires_in_days": "30"},
    )
    assert response.status_code == 201
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "Zapier"))
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    plain = re.search(r'id="new-token"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1)
    client.get("/api/v1/me", headers=bearer(plain))
    db.session.expire_all()
    assert db.session.get(ApiToken, row.id).last_used_at is not None
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "never" not in page.split('id="token-list"')[1].split("Zapier")[1].split("</tr>")[0]


def test_client_manager_invitation_mail_is_in_the_clients_language(smtp, database_url):
    agency = make_agency("Aurora")  # agency default: English
    trattoria = make_client(agency, "Trattoria", language="it")
    response = smtp.client.post(
        "/api/v1/invitations",
        json={
            "email": "chiara@example.com",
            "role": "client_manager",
            "client_id": str(trattoria.id),
        },
        headers=bearer(token_for(owner_of(agency), agency)),
    )
    assert response.status_code == 201
    [message] = smtp.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "invita" in text and "invites" not in text


def test_agency_role_invitation_mail_is_in_the_agency_language(smtp, database_url):
    agency = make_agency("Aurora")
    make_client(agency, "Trattoria", language="it")
    smtp.client.post(
        "/api/v1/invitations",
        json={"email": "staff@example.com", "role": "staff"},
        headers=bearer(token_for(owner_of(agency), agency)),
    )
    [message] = smtp.messages
    assert "invites" in message.get_body(preferencelist=("plain",)).get_content()


def test_demo_and_invited_users_need_no_verification(client, database_url):
    agency = make_agency()
    member = make_member(agency, Role.STAFF)
    assert owner_of(agency).email_verified_at is not None
    assert member.email_verified_at is not None


def test_web_signup_sends_the_verification_mail_and_the_account_page_says_so(smtp, database_url):
    response = form_post(
        smtp.client,
        "/signup",
        {
            "agency_name": "Web Agency",
            "name": "Wendy",
            "email": "wendy@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    # Signed in for this browser session only: "remember me" is the login form's choice.
    assert smtp.client.get_cookie("remember_token") is None
    path = _verify_link(smtp.messages)
    assert 'id="verify-email"' in smtp.client.get("/account").get_data(as_text=True)
    smtp.client.get(path)
    assert 'id="verify-email"' not in smtp.client.get("/account").get_data(as_text=True)
