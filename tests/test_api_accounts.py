"""Accounts API (DESIGN.md §9): sign-up, tokens, me, and the OpenAPI document and its browser."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from agency.db import db
from tenants import service
from tenants.models import Agency, ApiToken, Membership, Role, User
from tenants.names import InvalidName
from tests.factories import PASSWORD, make_agency, make_user, owner_of
from tests.helpers import bearer

GOOD_SIGNUP = {
    "agency_name": "Nuova Agenzia",
    "name": "Giulia Bianchi",
    "email": "giulia@example.com",
    "password": "long enough password",
}


def _counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Agency, User, Membership, ApiToken)
    }


def _assert_error_shape(response, code: int) -> dict:
    assert response.status_code == code
    body = response.json
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    return body


# --- sign-up --------------------------------------------------------------------------------


def test_signup_creates_agency_owner_and_a_working_token(client, database_url):
    response = client.post("/api/v1/signup", json=GOOD_SIGNUP)
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"agency", "user", "token"}
    assert body["agency"]["name"] == "Nuova Agenzia"
    assert body["agency"]["slug"] == "nuova-agenzia"
    assert body["user"]["email"] == "giulia@example.com"
    assert body["user"]["name"] == "Giulia Bianchi"
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    assert _counts() == {"agencies": 1, "users": 1, "memberships": 1, "api_tokens": 1}

    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.json["user"]["id"] == body["user"]["id"]
    assert me.json["agency"]["id"] == body["agency"]["id"]
    assert me.json["roles"] == ["owner"]


def test_signup_stores_only_a_hash_of_the_token(client, database_url):
    token = client.post("/api/v1/signup", json=GOOD_SIGNUP).json["token"]
    stored = db.session.scalars(select(ApiToken.token_hash)).all()
    assert stored and token not in stored


def test_an_agency_slug_is_its_name_in_ascii_lowercase_dashed_and_capped():
    assert service.slugify("  Café Ünïcode -- & Co!  ") == "cafe-unicode-co"
    assert service.slugify("!Acme!") == "acme"
    assert service.slugify("日本の代理店") == "agency"
    assert service.slugify("Ab" * 40) == "ab" * 30


def test_an_address_is_compared_trimmed_and_lowercased_and_nothing_stays_nothing():
    assert service.normalize_email("  Giulia@Example.COM ") == "giulia@example.com"
    assert service.normalize_email(None) == ""
    assert service.normalize_email("") == ""


def test_the_account_services_refuse_a_name_over_200_characters_whoever_calls_them(
    app, database_url
):
    """The 200-character bound is the services' own, not only their callers' (the demo and
    the CLI call them without validating first)."""
    with pytest.raises(InvalidName):
        service.create_user("n" * 201, "long@example.com", PASSWORD)
    with pytest.raises(InvalidName):
        service.create_agency_with_owner("a" * 201, "Owner", "owner@example.com", PASSWORD)
    db.session.rollback()
    user = service.create_user("n" * 200, "long@example.com", PASSWORD, locale="it")
    agency, owner = service.create_agency_with_owner("a" * 200, "Owner", "o@example.com", PASSWORD)
    db.session.commit()
    assert (len(user.name), user.locale, len(agency.name)) == (200, "it", 200)
    # Unless told otherwise (sign-up sends a verification mail), an account the services make
    # is verified: the demo's owner signs in at once.
    assert owner.email_verified_at is not None
    assert user.email_verified_at is not None


def test_agencies_of_one_name_get_the_next_free_number(app, database_url):
    slugs = [make_agency(name).slug for name in ("Acme", "Acme Co", "Acme", "Acme", "Acme")]
    assert slugs == ["acme", "acme-co", "acme-2", "acme-3", "acme-4"]


def test_signup_slug_is_unique_per_agency(client, database_url):
    client.post("/api/v1/signup", json=GOOD_SIGNUP)
    second = client.post("/api/v1/signup", json={**GOOD_SIGNUP, "email": "other@example.com"}).json
    assert second["agency"]["slug"] == "nuova-agenzia-2"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"password": "short"}, "password"),
        ({"password": ""}, "password"),
        ({"agency_name": ""}, "agency_name"),
        ({"agency_name": "   "}, "agency_name"),
        ({"agency_name": "x" * 201}, "agency_name"),
        ({"name": ""}, "name"),
        ({"agency_name": 123}, "agency_name"),
        ({"email": ["giulia@example.com"]}, "email"),
        ({"password": None}, "password"),
        ({"name": {"first": "Giulia"}}, "name"),
    ],
)
def test_signup_field_errors_answer_422_and_write_nothing(client, database_url, change, field):
    before = _counts()
    response = client.post("/api/v1/signup", json={**GOOD_SIGNUP, **change})
    body = _assert_error_shape(response, 422)
    assert field in body["errors"]["json"], body
    assert _counts() == before


@pytest.mark.parametrize("missing", ["agency_name", "name", "email", "password"])
def test_signup_missing_fields_answer_422_and_write_nothing(client, database_url, missing):
    before = _counts()
    data = {k: v for k, v in GOOD_SIGNUP.items() if k != missing}
    body = _assert_error_shape(client.post("/api/v1/signup", json=data), 422)
    assert missing in body["errors"]["json"]
    assert _counts() == before


def test_signup_duplicate_email_answers_422_and_writes_nothing(client, database_url):
    make_user("giulia@example.com")
    before = _counts()
    response = client.post("/api/v1/signup", json={**GOOD_SIGNUP, "email": "  Giulia@Example.COM "})
    body = _assert_error_shape(response, 422)
    assert "email" in body["errors"]["json"]
    assert _counts() == before


def test_signup_reports_every_bad_field_at_once(client, database_url):
    response = client.post(
        "/api/v1/signup",
        json={"agency_name": "", "name": "", "email": "nope", "password": "short"},
    )
    body = _assert_error_shape(response, 422)
    assert set(body["errors"]["json"]) == {"agency_name", "name", "email", "password"}


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", "null"])
def test_signup_with_a_body_that_is_not_an_object_writes_nothing(client, database_url, payload):
    before = _counts()
    response = client.post(
        "/api/v1/signup", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    _assert_error_shape(response, response.status_code)
    assert _counts() == before


def test_signup_disabled_answers_404(make_app, app, database_url):
    closed = make_app(signup_enabled=False)
    before = _counts()
    response = closed.test_client().post("/api/v1/signup", json=GOOD_SIGNUP)
    _assert_error_shape(response, 404)
    assert _counts() == before


# --- tokens ---------------------------------------------------------------------------------


def test_tokens_issues_a_token_for_a_member(client, database_url):
    agency = make_agency("Token Agency")
    owner = owner_of(agency)
    response = client.post(
        "/api/v1/tokens",
        json={"email": owner.email, "password": PASSWORD, "agency": agency.slug, "name": "ci"},
    )
    assert response.status_code == 201
    assert set(response.json) == {"token", "expires_at"}
    me = client.get("/api/v1/me", headers=bearer(response.json["token"]))
    assert me.status_code == 200
    assert me.json["agency"]["slug"] == agency.slug
    assert (
        db.session.scalar(
            select(ApiToken.name).where(ApiToken.prefix == response.json["token"][:10])
        )
        == "ci"
    )


def test_tokens_for_an_agency_the_user_is_not_member_of_answers_401(client, database_url):
    mine, theirs = make_agency("Mine"), make_agency("Theirs")
    owner = owner_of(mine)
    before = _counts()
    response = client.post(
        "/api/v1/tokens", json={"email": owner.email, "password": PASSWORD, "agency": theirs.slug}
    )
    _assert_error_shape(response, 401)
    unknown = client.post(
        "/api/v1/tokens", json={"email": owner.email, "password": PASSWORD, "agency": "no-such"}
    )
    assert unknown.status_code == 401 and unknown.json == response.json
    assert _counts() == before


def test_tokens_for_an_agency_whose_membership_was_deactivated_answer_401(client, database_url):
    kept, left = make_agency("Kept"), make_agency("Left")
    user = make_user()
    service.add_membership(user, kept, Role.MANAGER)
    membership = service.add_membership(user, left, Role.MANAGER)
    membership.active = False
    db.session.commit()
    before = _counts()

    response = client.post(
        "/api/v1/tokens", json={"email": user.email, "password": PASSWORD, "agency": left.slug}
    )

    _assert_error_shape(response, 401)
    assert _counts() == before
    still_member = client.post(
        "/api/v1/tokens", json={"email": user.email, "password": PASSWORD, "agency": kept.slug}
    )
    assert still_member.status_code == 201


def test_tokens_missing_fields_answer_422(client, database_url):
    body = _assert_error_shape(client.post("/api/v1/tokens", json={"email": "a@b.c"}), 422)
    assert {"password", "agency"} <= set(body["errors"]["json"])


# --- me -------------------------------------------------------------------------------------


def test_me_reports_user_agency_and_roles_of_the_tokens_agency(client, database_url):
    agency = make_agency("Me Agency")
    owner = owner_of(agency)
    other = make_agency("Other Agency", owner=owner)
    token = client.post(
        "/api/v1/tokens", json={"email": owner.email, "password": PASSWORD, "agency": other.slug}
    ).json["token"]
    body = client.get("/api/v1/me", headers=bearer(token)).json
    assert body["agency"] == {"id": str(other.id), "name": "Other Agency", "slug": other.slug}
    assert body["user"]["email"] == owner.email
    assert body["roles"] == ["owner"]
    assert body["client_roles"] == []


# --- OpenAPI and docs -----------------------------------------------------------------------


def test_openapi_document_is_valid_and_lists_the_accounts_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    assert {"/api/v1/signup", "/api/v1/tokens", "/api/v1/me"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_api_docs_serve_swagger_ui_from_local_assets(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"(https?:)?//[\w.-]+\.[a-z]{2,}", html), "external URL in the docs page"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    served_code = ""
    for asset in assets:
        assert asset.startswith("/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert served.get_data(), asset
        served_code += served.get_data(as_text=True)
    # Swagger UI is started by a script file (the CSP allows no inline script).
    assert "SwaggerUIBundle({" in served_code


def test_public_endpoint_marks_a_view_function_or_class_as_needing_no_token():
    # Called at test time: the real views were decorated while their modules were imported.
    from flask import Flask
    from flask.views import MethodView

    from tenants.web import is_public, public_endpoint

    def open_view() -> str:
        return ""

    class OpenResource(MethodView):
        def get(self) -> str:
            return ""

    app = Flask(__name__)
    assert public_endpoint(open_view) is open_view
    app.add_url_rule("/open", view_func=open_view)
    app.add_url_rule("/resource", view_func=public_endpoint(OpenResource).as_view("resource"))
    app.add_url_rule("/closed", "closed", view_func=lambda: "")
    with app.app_context():
        assert [is_public(e) for e in ("open_view", "resource", "closed", None)] == [
            True,
            True,
            False,
            False,
        ]
