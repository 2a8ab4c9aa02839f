"""One rule for names everywhere, client names unique whatever their case, one currency list,
canonical time zones, the agency's defaults for a new client, and a warning (not a refusal)
when another client has the same VAT id."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from agency.channels.models import Channel
from agency.clients.forms import currency_choices, timezone_choices
from agency.clients.validation import currencies, timezones
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Agency, ApiToken, ClientCompany, User
from tenants.names import InvalidName, clean_name
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

BAD_NAMES = {
    "empty": "",
    "spaces": "   ",
    "zero-width": "\u200b\u200c\ufeff",
    "nbsp and ideographic space": "\u00a0\u3000",
    "tab": "Acme\tCorp",
    "newline": "Acme\nCorp",
    "escape": "Acme\x1b[31m",
    "C1 control": "Acme\x85",
}
IT_VAT = "IT12345670017"


def _count(agency, model) -> int:  # noqa: ANN001
    with tenant_context(agency.id):
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def agency(database_url):
    return make_agency("Studio Nord")


@pytest.fixture
def token(agency):
    return token_for(owner_of(agency), agency)


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_the_shared_rule_refuses_blank_and_control_characters(name):
    with pytest.raises(InvalidName):
        clean_name(name, 200)


def test_the_shared_rule_strips_and_keeps_real_names():
    assert clean_name("  Zoë 🙂 Café\u200b ", 200) == "Zoë 🙂 Café"
    assert clean_name("\u200bAcme", 200) == "Acme"
    with pytest.raises(InvalidName):
        clean_name("x" * 201, 200)


def test_the_shared_rule_names_each_refusal_with_its_message(app):
    control = "Names cannot contain control characters such as tabs or newlines."
    blank = "Enter a name (spaces and invisible characters do not count)."
    with app.test_request_context():
        for name, message in [
            ("Acme\tCorp", control),
            ("Acme\x85", control),
            ("\x00", control),
            (None, blank),
            ("", blank),
            ("\u200b\u00a0\u3000", blank),
            ("x" * 201, "Use at most 200 characters."),
        ]:
            with pytest.raises(InvalidName) as refused:
                clean_name(name, 200)
            assert str(refused.value) == message, repr(name)
        assert clean_name(None, 200, required=False) is None
        assert clean_name(" \u200b ", 200, required=False) is None
        assert clean_name("x" * 200, 200) == "x" * 200
        assert clean_name(" \u200bAcme\u2060 ", 200) == "Acme"
        assert clean_name(42, 200) == "42"


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_names_are_refused_everywhere_and_write_nothing(client, agency, token, name):
    acme = make_client(agency, "Acme")
    headers = bearer(token)
    before_users = db.session.scalar(select(func.count()).select_from(User))
    answers = {
        "client": client.post("/api/v1/clients", json={"name": name}, headers=headers),
        "client rename": client.patch(
            f"/api/v1/clients/{acme.id}", json={"name": name}, headers=headers
        ),
        "channel": client.post(
            f"/api/v1/clients/{acme.id}/channels",
            json={"network": "manual", "name": name},
            headers=headers,
        ),
        "agency": client.patch("/api/v1/agency", json={"name": name}, headers=headers),
        "signup agency": client.post(
            "/api/v1/signup",
            json={
                "agency_name": name,
                "name": "Ann",
                "email": "ann@example.com",
                "password": "correct horse battery",
            },
        ),
        "signup person": client.post(
            "/api/v1/signup",
            json={
                "agency_name": "Ann's",
                "name": name,
                "email": "ann@example.com",
                "password": "correct horse battery",
            },
        ),
        "token": client.post(
            "/api/v1/tokens",
            json={
                "email": owner_of(agency).email,
                "password": "correct horse battery",
                "agency": agency.slug,
                "name": name,
            },
        ),
    }
    for what, response in answers.items():
        assert response.status_code == 422, (what, response.status_code, response.json)
        errors = response.json["errors"]["json"]
        assert "name" in errors or "agency_name" in errors, (what, errors)
    assert _count(agency, ClientCompany) == 1
    assert _count(agency, Channel) == 0
    db.session.expire_all()
    assert db.session.get(Agency, agency.id).name == "Studio Nord"
    assert db.session.scalar(select(func.count()).select_from(User)) == before_users
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1


@pytest.mark.parametrize("name", ["   ", "\u200b", "Ann\tSmith"])
def test_web_forms_refuse_bad_names(client, auth, agency, name):
    owner = owner_of(agency)
    auth.login(owner.email)
    page = form_post(client, f"/a/{agency.slug}/clients/new", {"name": name, "country": ""})
    assert page.status_code == 422
    profile = form_post(
        client,
        "/account",
        {"profile-name": name, "profile-locale": "", "profile-submit": "1"},
    )
    assert profile.status_code in (200, 422)
    db.session.expire_all()
    assert db.session.get(User, owner.id).name == owner.name
    assert _count(agency, ClientCompany) == 0


def test_client_names_are_unique_whatever_their_case(client, agency, token):
    first = client.post("/api/v1/clients", json={"name": "Acme"}, headers=bearer(token))
    assert first.status_code == 201
    for name in ("ACME", "acme", " aCmE "):
        again = client.post("/api/v1/clients", json={"name": name}, headers=bearer(token))
        assert again.status_code == 422, again.json
        assert "name" in again.json["errors"]["json"]
    other = client.post("/api/v1/clients", json={"name": "Globex"}, headers=bearer(token))
    rename = client.patch(
        f"/api/v1/clients/{other.json['id']}", json={"name": "aCME"}, headers=bearer(token)
    )
    assert rename.status_code == 422 and "name" in rename.json["errors"]["json"]
    assert _count(agency, ClientCompany) == 2


def test_the_database_refuses_a_case_variant_too(agency):
    make_client(agency, "Acme")
    with pytest.raises(IntegrityError), tenant_context(agency.id):
        db.session.add(ClientCompany(name="ACME"))
        db.session.commit()
    db.session.rollback()
    other = make_agency("Other")
    make_client(other, "ACME")  # per agency: another agency may have its own Acme


def test_one_currency_list_for_agency_and_clients(client, agency, token):
    codes = currencies()
    assert {"EUR", "USD", "JPY", "BRL", "INR"} <= set(codes)
    assert not {"ITL", "DEM", "XXX", "XAU"} & set(codes)  # withdrawn, or not a currency
    assert [code for code, _label in currency_choices()] == list(codes)
    headers = bearer(token)
    created = client.post(
        "/api/v1/clients", json={"name": "Tokyo", "currency": "JPY"}, headers=headers
    )
    assert created.status_code == 201 and created.json["currency"] == "JPY"
    agency_ok = client.patch("/api/v1/agency", json={"default_currency": "JPY"}, headers=headers)
    assert agency_ok.status_code == 200 and agency_ok.json["default_currency"] == "JPY"
    for code in ("ITL", "XAU", "EURO"):
        refused = client.post(
            "/api/v1/clients", json={"name": f"C {code}", "currency": code}, headers=headers
        )
        assert refused.status_code == 422 and "currency" in refused.json["errors"]["json"]
        agency_refused = client.patch(
            "/api/v1/agency", json={"default_currency": code}, headers=headers
        )
        assert agency_refused.status_code == 422


def test_time_zones_are_canonical_only(client, agency, token, app):
    zones = timezones()
    assert "Africa/Asmera" not in zones and "Asia/Calcutta" not in zones
    assert {"Europe/Rome", "Africa/Nairobi", "Asia/Kolkata", "UTC"} <= zones
    assert "Africa/Asmera" not in {name for name, _label in timezone_choices()}
    response = client.post(
        "/api/v1/clients",
        json={"name": "Asmara", "timezone": "Africa/Asmera"},
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert response.json["errors"]["json"]["timezone"]
    agency_response = client.patch(
        "/api/v1/agency", json={"timezone": "Asia/Calcutta"}, headers=bearer(token)
    )
    assert agency_response.status_code == 422


def test_the_service_names_the_canonical_zone_of_an_alias(app):
    from agency.clients.validation import FieldError, clean_timezone

    with pytest.raises(FieldError, match="Africa/Nairobi"):
        clean_timezone("Africa/Asmera")


def _set_agency_defaults(agency) -> None:  # noqa: ANN001
    row = db.session.get(Agency, agency.id)
    row.default_currency, row.timezone, row.default_locale = "USD", "America/New_York", "it"
    db.session.commit()


def test_a_new_client_takes_the_agency_defaults_on_the_api(client, agency, token):
    _set_agency_defaults(agency)
    response = client.post("/api/v1/clients", json={"name": "Acme"}, headers=bearer(token))
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["currency"], body["timezone"], body["language"]) == (
        "USD",
        "America/New_York",
        "it",
    )
    given = client.post(
        "/api/v1/clients",
        json={"name": "Globex", "currency": "EUR", "timezone": "Europe/Rome", "language": "en"},
        headers=bearer(token),
    )
    assert (given.json["currency"], given.json["timezone"], given.json["language"]) == (
        "EUR",
        "Europe/Rome",
        "en",
    )


def test_the_new_client_form_is_prefilled_with_the_agency_defaults(client, auth, agency):
    _set_agency_defaults(agency)
    auth.login(owner_of(agency).email)
    html = client.get(f"/a/{agency.slug}/clients/new").get_data(as_text=True)
    assert '<option selected value="USD">' in html
    assert '<option selected value="America/New_York">' in html
    assert '<option selected value="it">' in html
    # Submitting without touching them keeps them.
    form_post(client, f"/a/{agency.slug}/clients/new", {"name": "Acme", "country": ""})
    with tenant_context(agency.id):
        acme = db.session.scalar(select(ClientCompany))
    assert (acme.currency, acme.timezone, acme.language) == ("USD", "America/New_York", "it")


def test_a_second_client_with_the_same_vat_id_is_accepted_with_a_warning(client, agency, token):
    headers = bearer(token)
    details = {"country": "IT", "vat_number": IT_VAT, "sdi_code": "ABC1234"}
    first = client.post("/api/v1/clients", json={"name": "Rossi", **details}, headers=headers)
    assert first.status_code == 201 and first.json["warnings"] == []
    second = client.post(
        "/api/v1/clients", json={"name": "Rossi Brand Two", **details}, headers=headers
    )
    assert second.status_code == 201
    assert len(second.json["warnings"]) == 1
    assert "Rossi" in second.json["warnings"][0] and IT_VAT in second.json["warnings"][0]
    # Edits warn too, naming the other client.
    edit = client.patch(f"/api/v1/clients/{first.json['id']}", json={}, headers=headers)
    assert edit.status_code == 200 and "Rossi Brand Two" in edit.json["warnings"][0]
    assert _count(agency, ClientCompany) == 2


def test_the_web_form_flashes_the_same_vat_warning(client, auth, agency):
    make_client(agency, "Rossi", country="IT", vat_number=IT_VAT, sdi_code="ABC1234")
    auth.login(owner_of(agency).email)
    page = form_post(
        client,
        f"/a/{agency.slug}/clients/new",
        {"name": "Rossi Two", "country": "IT", "vat_number": IT_VAT, "sdi_code": "ABC1234"},
        follow_redirects=True,
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Rossi has the same VAT id" in html
    assert _count(agency, ClientCompany) == 2
