"""Finding 1: an invitation can no longer be used to guess an existing account's password.

An address that already has an account accepts *while signed in as that account* (web
session, or its own bearer token on the API); the accept endpoints never check a password.
"""

from __future__ import annotations

from sqlalchemy import func, select

from agency.db import db
from tenants.models import Membership, Role
from tests.factories import PASSWORD, make_agency, make_member, owner_of, token_for
from tests.helpers import AuthActions, bearer, csrf_from


def _memberships_of(user) -> int:  # noqa: ANN001
    return db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.user_id == user.id)
    )


def _invite(client, agency, email: str, role: str = "staff") -> str:  # noqa: ANN001
    response = client.post(
        "/api/v1/invitations",
        json={"email": email, "role": role},
        headers=bearer(token_for(owner_of(agency), agency)),
    )
    assert response.status_code == 201, response.json
    return response.json["token"]


def test_api_accept_with_the_victims_right_password_is_refused(client, database_url):
    victim = make_member(make_agency("Victim Home"), Role.OWNER, email="victim@example.com")
    attacker_agency = make_agency("Attacker Agency")
    token = _invite(client, attacker_agency, "victim@example.com")

    for password in ("wrong guess 1", PASSWORD):  # even the right password gets nowhere
        response = client.post(
            "/api/v1/invitations/accept",
            json={"token": token, "name": "x", "password": password},
        )
        assert response.status_code == 401
        assert response.json["code"] == 401
        assert "sign in" in response.json["message"]
        assert "token" not in response.json
    assert _memberships_of(victim) == 1


def test_web_accept_never_asks_for_nor_checks_an_existing_accounts_password(client, database_url):
    victim = make_member(make_agency("Victim Home"), Role.MANAGER, email="victim@example.com")
    token = _invite(client, make_agency("Attacker Agency"), "victim@example.com")
    attacker = client.application.test_client()
    html = attacker.get(f"/invitations/{token}").get_data(as_text=True)
    assert 'type="password"' not in html

    response = attacker.post(
        f"/invitations/{token}", data={"csrf_token": csrf_from(html), "password": PASSWORD}
    )

    assert response.status_code == 403
    assert _memberships_of(victim) == 1


def test_signed_in_as_another_account_cannot_accept(client, database_url):
    make_member(make_agency(), Role.STAFF, email="invitee@example.com")
    other_home = make_agency()
    other = make_member(other_home, Role.STAFF, email="other@example.com")
    agency = make_agency("Inviting")
    token = _invite(client, agency, "invitee@example.com")
    browser = client.application.test_client()
    AuthActions(browser).login("other@example.com")

    page = browser.get(f"/invitations/{token}").get_data(as_text=True)
    assert "you are signed in as other@example.com" in page
    response = browser.post(f"/invitations/{token}", data={"csrf_token": csrf_from(page)})

    assert response.status_code == 403
    assert _memberships_of(other) == 1
    api = client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=bearer(token_for(other, other_home)),
    )
    assert api.status_code == 403
    assert _memberships_of(other) == 1


def test_api_accept_with_the_invitees_own_bearer_token(client, database_url):
    home = make_agency("Home")
    person = make_member(home, Role.STAFF, email="person@example.com")
    agency = make_agency("Joining")
    token = _invite(client, agency, "person@example.com", role="manager")

    response = client.post(
        "/api/v1/invitations/accept",
        json={"token": token, "password": "ignored, never checked"},
        headers=bearer(token_for(person, home)),
    )

    assert response.status_code == 201
    me = client.get("/api/v1/me", headers=bearer(response.json["token"]))
    assert me.json["agency"]["slug"] == agency.slug and me.json["roles"] == ["manager"]
    again = client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=bearer(token_for(person, home)),
    )
    assert again.status_code == 410


def test_api_accept_with_a_bad_bearer_token_answers_401(client, database_url):
    token = _invite(client, make_agency(), "new@example.com")
    response = client.post(
        "/api/v1/invitations/accept",
        json={"token": token, "name": "N", "password": PASSWORD},
        headers=bearer("rg_not-a-token"),
    )
    assert response.status_code == 401
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 1


def test_accept_attempts_are_throttled_per_link(make_app, database_url):
    app = make_app(accept_rate_limit="3 per minute")
    with app.app_context():
        client = app.test_client()
        token = _invite(client, make_agency(), "new@example.com")
        codes = [
            client.post(
                "/api/v1/invitations/accept",
                json={"token": token, "name": "", "password": "x"},
                environ_base={"REMOTE_ADDR": f"10.0.0.{n}"},
            ).status_code
            for n in range(4)
        ]
        assert codes == [422, 422, 422, 429]


def test_accept_attempts_are_throttled_per_address(make_app, database_url):
    app = make_app(accept_rate_limit="3 per minute")
    with app.app_context():
        client = app.test_client()
        codes = [
            client.post(
                "/api/v1/invitations/accept", json={"token": f"guess-{n}", "password": "x"}
            ).status_code
            for n in range(4)
        ]
        assert codes == [410, 410, 410, 429]
