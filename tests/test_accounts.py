"""Accounts: login answers, rate limits, sessions, CSRF, API authentication, cookies, redirects."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from agency.db import db, utcnow
from agency.errors import ValidationFailed
from tenants.context import tenant_context
from tenants.models import ApiToken, ClientCompany, Membership, Role, User
from tenants.passwords import verify_password
from tenants.service import add_membership, email_problem
from tests.factories import PASSWORD, make_agency, owner_of, token_for
from tests.helpers import bearer, csrf_from, form_post

CSRF_VALUE_RE = re.compile(r'(name="[\w-]*csrf_token"[^>]*value=")[^"]+"')
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def owner(app, database_url) -> User:
    return owner_of(make_agency("Accounts Agency"))


def _login(client, email: str, password: str = PASSWORD, path: str = "/login"):
    return form_post(client, path, {"email": email, "password": password}, page="/login")


def _page_without_secrets(response, *echoed: str) -> str:
    html = CSRF_VALUE_RE.sub(r'\1X"', response.get_data(as_text=True))
    for value in echoed:
        html = html.replace(value, "ECHO")
    return html


def _password_change(client, current: str, new: str):
    html = client.get("/account").get_data(as_text=True)
    token = re.search(r'name="password-csrf_token"[^>]*value="([^"]+)"', html).group(1)
    return client.post(
        "/account",
        data={
            "password-csrf_token": token,
            "password-current_password": current,
            "password-new_password": new,
            "password-submit": "1",
        },
    )


# --- same answer for unknown e-mail and wrong password -------------------------------------


def test_web_login_wrong_password_and_unknown_email_look_alike(client, owner):
    wrong = _login(client, owner.email, "not the password")
    unknown = _login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert _page_without_secrets(wrong, owner.email) == _page_without_secrets(
        unknown, "nobody@example.com"
    )
    assert "Wrong e-mail or password." in wrong.get_data(as_text=True)


def test_api_tokens_wrong_password_and_unknown_email_look_alike(client, owner):
    agency_slug = "accounts-agency"
    wrong = client.post(
        "/api/v1/tokens",
        json={"email": owner.email, "password": "not the password", "agency": agency_slug},
    )
    unknown = client.post(
        "/api/v1/tokens",
        json={"email": "nobody@example.com", "password": "not the password", "agency": agency_slug},
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json
    assert set(wrong.json) >= {"code", "status", "message", "errors"}


def test_inactive_user_cannot_log_in(client, owner):
    owner.active = False
    db.session.commit()
    response = _login(client, owner.email)
    assert response.status_code == 401
    assert client.get("/account").status_code == 302


# --- rate limits ----------------------------------------------------------------------------


def test_too_many_failed_web_logins_answer_429(client, owner):
    for _ in range(5):
        assert _login(client, owner.email, "not the password").status_code == 401
    assert _login(client, owner.email, "not the password").status_code == 429
    # Even the right password waits out the limit: the address is what is limited.
    assert _login(client, owner.email).status_code == 429


def test_successful_web_logins_do_not_count_toward_the_limit(client, auth, owner):
    for _ in range(4):
        assert _login(client, owner.email, "not the password").status_code == 401
    for _ in range(3):
        assert _login(client, owner.email).status_code == 302
        auth.logout()
    assert _login(client, owner.email, "not the password").status_code == 401
    assert _login(client, owner.email, "not the password").status_code == 429


def test_too_many_failed_token_requests_answer_429(client, owner):
    body = {"email": owner.email, "password": "not the password", "agency": "accounts-agency"}
    for _ in range(5):
        assert client.post("/api/v1/tokens", json=body).status_code == 401
    response = client.post("/api/v1/tokens", json=body)
    assert response.status_code == 429


def test_successful_token_requests_do_not_count_toward_the_limit(client, owner):
    good = {"email": owner.email, "password": PASSWORD, "agency": "accounts-agency"}
    bad = {**good, "password": "not the password"}
    for _ in range(4):
        assert client.post("/api/v1/tokens", json=bad).status_code == 401
    for _ in range(3):
        assert client.post("/api/v1/tokens", json=good).status_code == 201
    assert client.post("/api/v1/tokens", json=bad).status_code == 401
    assert client.post("/api/v1/tokens", json=bad).status_code == 429


# --- sessions -------------------------------------------------------------------------------


def test_password_change_ends_other_sessions_but_not_this_one(app, owner):
    this, other = app.test_client(), app.test_client()
    assert _login(this, owner.email).status_code == 302
    assert _login(other, owner.email).status_code == 302
    assert other.get("/account").status_code == 200

    response = _password_change(this, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302

    assert this.get("/account").status_code == 200
    kicked = other.get("/account")
    assert kicked.status_code == 302
    assert "/login" in kicked.location
    # And the new password is the one that works now.
    fresh = app.test_client()
    assert _login(fresh, owner.email, PASSWORD).status_code == 401
    assert _login(fresh, owner.email, NEW_PASSWORD).status_code == 302


def test_password_change_with_wrong_current_password_changes_nothing(client, owner):
    _login(client, owner.email)
    before = owner.password_hash
    response = _password_change(client, "not the password", NEW_PASSWORD)
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, owner.id).password_hash == before


def test_the_service_refuses_passwords_over_1024_characters_too(app, owner):
    # Every form and schema caps passwords at 1024 first; the shared rule must hold alone.
    from tenants.service import change_password

    with app.test_request_context():
        with pytest.raises(ValidationFailed) as refused:
            change_password(owner, PASSWORD, "x" * 1025)
        assert refused.value.errors == {"new_password": ["Use at most 1024 characters."]}
        before = owner.password_hash
        db.session.expire_all()
        assert db.session.get(User, owner.id).password_hash == before
        change_password(owner, PASSWORD, "x" * 1024)
        assert verify_password(db.session.get(User, owner.id).password_hash, "x" * 1024)


def test_the_service_names_a_wrong_current_password_with_its_message(app, owner):
    from tenants.service import change_password

    before = owner.password_hash
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as refused:
            change_password(owner, "not the password", NEW_PASSWORD)
        assert refused.value.errors == {"current_password": ["The current password is not right."]}
        with pytest.raises(ValidationFailed) as refused:
            change_password(owner, "", "short")
        assert refused.value.errors == {
            "current_password": ["The current password is not right."],
            "new_password": ["Use at least 10 characters."],
        }
    db.session.expire_all()
    assert db.session.get(User, owner.id).password_hash == before


def test_the_signup_service_refuses_bad_input_and_a_taken_address_writing_nothing(app, owner):
    # Forms and schemas catch most of this first (not a taken address): the service must too.
    from tenants.models import Agency
    from tenants.service import signup

    agencies = db.session.scalars(select(Agency.id)).all()
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as refused:
            signup("Taken Agency", "Ada", owner.email, "x" * 10)
        assert refused.value.errors == {"email": ["An account with this e-mail already exists."]}
        with pytest.raises(ValidationFailed) as refused:
            signup("x" * 201, "Ada", "ada@example.com", "x" * 10)
        assert refused.value.errors == {"agency_name": ["Use at most 200 characters."]}
        with pytest.raises(ValidationFailed) as refused:
            signup(" ", " ", "nope", "short")
        assert refused.value.errors == {
            "name": ["Enter a name (spaces and invisible characters do not count)."],
            "email": ["Enter a valid e-mail address."],
            "password": ["Use at least 10 characters."],
            "agency_name": ["Enter a name (spaces and invisible characters do not count)."],
        }
    db.session.rollback()
    assert db.session.scalars(select(Agency.id)).all() == agencies
    assert db.session.scalar(select(User).where(User.email == "ada@example.com")) is None


def test_signup_creates_an_unverified_owner_with_a_token_named_signup(app, database_url):
    from tenants.service import signup, tokens_of

    with app.test_request_context():
        agency, user, token = signup("x" * 200, "Ada", "ada@example.com", "x" * 10)
        verified_agency, verified, _ = signup(
            "Verified", "Bo", "bo@example.com", "x" * 10, verified=True
        )
    assert agency.name == "x" * 200
    assert user.email_verified_at is None and verified.email_verified_at is not None
    [stored] = tokens_of(user)
    assert (stored.name, stored.agency_id, stored.prefix) == ("signup", agency.id, token[:10])
    assert [t.name for t in tokens_of(verified)] == ["signup"]


def test_account_validation_names_every_bad_field_with_its_message(app, owner):
    # Forms and schemas catch most of this first; the service rule must hold on its own.
    from tenants.service import validate_new_account

    with app.test_request_context():
        assert validate_new_account("Ada", "ada@example.com", "x" * 10) == {}
        assert validate_new_account(" ", "not-an-address", "short") == {
            "name": ["Enter a name (spaces and invisible characters do not count)."],
            "email": ["Enter a valid e-mail address."],
            "password": ["Use at least 10 characters."],
        }
        taken = validate_new_account("Ada", f"  {owner.email.upper()} ", "x" * 10)
        assert taken == {"email": ["An account with this e-mail already exists."]}
        assert validate_new_account("x" * 200, "ada@example.com", "x" * 10) == {}
        assert validate_new_account("x" * 201, "ada@example.com", "x" * 10) == {
            "name": ["Use at most 200 characters."]
        }


def test_form_post_without_csrf_token_is_refused_and_changes_nothing(client, owner):
    _login(client, owner.email)
    response = client.post(
        "/account", data={"profile-name": "Changed By Forgery", "profile-submit": "1"}
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, owner.id).name != "Changed By Forgery"


def test_login_without_csrf_token_is_refused(client, owner):
    response = client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/account").status_code == 302


def test_logout_ends_the_session(client, auth, owner):
    _login(client, owner.email)
    assert client.get("/account").status_code == 200
    auth.logout()
    assert client.get("/account").status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(client, owner):
    response = _login(client, owner.email)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "login sets the session cookie"
    attributes = {part.strip().lower() for part in cookies[-1].split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/\t/evil.example/",
        "javascript:alert(1)",
        "http:evil.example",
    ],
)
def test_login_next_refuses_off_site_urls(client, owner, target):
    html = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": csrf_from(html), "email": owner.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert "evil.example" not in response.location
    assert "javascript" not in response.location
    assert response.location.startswith("/")
    assert not response.location.startswith(("//", "/\\"))


def test_login_next_keeps_on_site_paths(client, owner):
    html = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        query_string={"next": "/account?tab=password"},
        data={"csrf_token": csrf_from(html), "email": owner.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location == "/account?tab=password"


# --- API authentication ---------------------------------------------------------------------


NO_TOKEN = "Authentication required: send 'Authorization: Bearer <token>'."
BAD_TOKEN = "The token is invalid, revoked, or its member is inactive."


def _assert_401_shape(response, message: str = BAD_TOKEN) -> None:
    assert response.status_code == 401
    assert response.is_json
    body = response.json
    assert body["code"] == 401
    assert body["status"] == "Unauthorized"
    assert body["message"] == message
    assert body["errors"] == {}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, NO_TOKEN),
        ({"Authorization": ""}, NO_TOKEN),
        ({"Authorization": "Bearer"}, NO_TOKEN),
        ({"Authorization": "Bearer "}, NO_TOKEN),
        ({"Authorization": "Bearer    "}, NO_TOKEN),
        ({"Authorization": "Token rg_abc"}, NO_TOKEN),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, NO_TOKEN),
        ({"Authorization": "rg_abcdef"}, NO_TOKEN),
        ({"Authorization": "Bearer rg_not-a-real-token"}, BAD_TOKEN),
        ({"Authorization": "Bearer not-even-the-prefix"}, BAD_TOKEN),
        ({"Authorization": "Bearer " + "rg_" + "x" * 500}, BAD_TOKEN),
    ],
)
def test_api_without_a_valid_token_answers_401_in_json(client, owner, headers, message):
    _assert_401_shape(client.get("/api/v1/me", headers=headers), message)


def test_the_bearer_scheme_is_case_insensitive_and_spaces_around_the_token_are_ignored(
    client, owner
):
    agency = make_agency("Header Agency", owner=owner)
    token = token_for(owner, agency)
    for header in (f"Bearer {token}", f"bearer {token}", f"BEARER  {token} "):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 200, header


def test_revoked_token_answers_401(client, owner):
    agency = make_agency("Revocation Agency", owner=owner)
    token = token_for(owner, agency)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == token[:10]))
    row.revoked_at = utcnow()
    db.session.commit()
    _assert_401_shape(client.get("/api/v1/me", headers=bearer(token)))


def test_inactive_users_token_answers_401(client, owner):
    agency = make_agency("Inactive Agency", owner=owner)
    token = token_for(owner, agency)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    owner.active = False
    db.session.commit()
    _assert_401_shape(client.get("/api/v1/me", headers=bearer(token)))


def test_token_of_a_removed_member_answers_401(client, owner):
    from tenants.models import Membership

    agency = make_agency("Left Agency", owner=owner)
    token = token_for(owner, agency)
    membership = db.session.scalar(
        select(Membership).where(Membership.agency_id == agency.id, Membership.user_id == owner.id)
    )
    membership.active = False
    db.session.commit()
    _assert_401_shape(client.get("/api/v1/me", headers=bearer(token)))


def test_session_cookie_does_not_authenticate_the_api(client, owner):
    _login(client, owner.email)
    _assert_401_shape(client.get("/api/v1/me"), NO_TOKEN)


# --- the user's agencies ----------------------------------------------------------------------


def test_the_agencies_page_lists_the_users_live_agencies_once_each_by_name(client, owner):
    """Only this user's agencies (another's would leak its name), only live memberships,
    each once even with two memberships there, sorted by name; with one agency left,
    home goes straight to its dashboard."""
    zeta = make_agency("Zeta Social", owner=owner)
    alpha = make_agency("Alpha Social", owner=owner)
    # More agencies than order could match by chance (unsorted, six come back in name order
    # once in 720; with three, once in six: mutmut saw `order_by(None)` survive that way).
    others = [make_agency(f"{name} Social", owner=owner) for name in ("Delta", "Beta", "Gamma")]
    left = make_agency("Left Social", owner=owner)
    make_agency("Not Mine Social")
    with tenant_context(alpha.id):
        second = ClientCompany(name="Alpha's client")
        db.session.add(second)
        db.session.flush()
    add_membership(owner, alpha, Role.CLIENT_VIEWER, client_id=second.id)
    for membership in db.session.scalars(select(Membership).where(Membership.user_id == owner.id)):
        membership.active = membership.agency_id != left.id
    db.session.commit()
    assert _login(client, owner.email).status_code == 302

    html = client.get("/agencies").get_data(as_text=True)
    listed = re.findall(r'href="/a/([^/"]+)/">([^<]+)</a>', html.split('id="agency-list"')[1])
    beta, delta, gamma = sorted(others, key=lambda agency: agency.name)
    assert listed == [
        ("accounts-agency", "Accounts Agency"),
        (alpha.slug, "Alpha Social"),
        (beta.slug, "Beta Social"),
        (delta.slug, "Delta Social"),
        (gamma.slug, "Gamma Social"),
        (zeta.slug, "Zeta Social"),
    ]
    for membership in db.session.scalars(select(Membership).where(Membership.user_id == owner.id)):
        membership.active = membership.agency_id == zeta.id
    db.session.commit()
    assert client.get("/").headers["Location"] == f"/a/{zeta.slug}/"


def test_the_agency_switcher_links_each_agency_to_its_own_dashboard(client, owner):
    # Links inside an agency get its slug implied (tenants.web._add_agency_slug); an
    # explicit slug, as the switcher gives, must win over the agency being shown.
    other = make_agency("Other Social", owner=owner)
    assert _login(client, owner.email).status_code == 302
    html = client.get(f"/a/{other.slug}/").get_data(as_text=True)
    switcher = html.split('aria-labelledby="agency-switcher"')[1].split("</ul>")[0]
    assert re.findall(r'href="([^"]+)">([^<]+)</a>', switcher) == [
        ("/a/accounts-agency/", "Accounts Agency"),
        (f"/a/{other.slug}/", "Other Social"),
    ]


def test_the_services_address_check_looks_nothing_up_in_the_dns(monkeypatch):
    # A deliverability check would put a DNS lookup (and its timeouts) into sign-up.
    import email_validator.deliverability

    def lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("the service looked the domain up in the DNS")

    monkeypatch.setattr(email_validator.deliverability, "validate_email_deliverability", lookup)
    assert email_problem("ann@example.com") is None
    assert email_problem("ann@") == "Enter a valid e-mail address."
