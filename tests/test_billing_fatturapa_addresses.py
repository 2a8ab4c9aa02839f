"""Structured addresses (DESIGN §8) and the agency's IBAN: validated, normalised, 422 on bad
input with nothing changed, on the agency settings API and form and on the clients API."""

from __future__ import annotations

import uuid

from agency.db import db
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

GOOD_IBAN = "IT60 X054 2811 1010 0000 0123 456"


def _fresh(model, id_):  # noqa: ANN001, ANN202
    db.session.expire_all()
    return db.session.get(model, id_)


def test_agency_settings_api_stores_structured_address_and_compact_iban(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {
        "country": "IT",
        "tax_regime": "RF01",
        "address": "Via Roma 1",
        "postal_code": "20121",
        "city": "Milano",
        "province": "mi",
        "iban": GOOD_IBAN,
    }
    response = client.patch("/api/v1/agency", json=body, headers=headers)

    assert response.status_code == 200, response.json
    assert response.json["province"] == "MI"
    assert response.json["iban"] == "IT60X0542811101000000123456"
    saved = _fresh(Agency, agency.id)
    assert (saved.address, saved.postal_code, saved.city, saved.province) == (
        "Via Roma 1",
        "20121",
        "Milano",
        "MI",
    )


def test_agency_settings_api_refuses_bad_cap_province_and_iban_changing_nothing(
    client, database_url
):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {
        "country": "IT",
        "tax_regime": "RF01",
        "city": "Milano",
        "postal_code": "2012",
        "province": "Milano",
        "iban": "IT60X0542811101000000123457",  # check digits wrong
    }
    response = client.patch("/api/v1/agency", json=body, headers=headers)

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) >= {"postal_code", "province", "iban"}
    saved = _fresh(Agency, agency.id)
    assert (saved.city, saved.postal_code, saved.iban) == (None, None, None)


def test_foreign_postal_codes_and_regions_are_free_text(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {"country": "GB", "postal_code": "sw1a 1aa", "province": "Greater London"}
    response = client.patch("/api/v1/agency", json=body, headers=headers)
    assert response.status_code == 200, response.json
    assert (response.json["postal_code"], response.json["province"]) == (
        "SW1A 1AA",
        "Greater London",
    )


def test_agency_settings_form_shows_the_iban_error(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    response = form_post(
        client,
        f"/a/{agency.slug}/settings",
        {
            "settings-name": agency.name,
            "settings-country": "IT",
            "settings-tax_regime": "RF01",
            "settings-iban": "NOT AN IBAN",
            "settings-default_locale": "en",
            "settings-timezone": "Europe/Rome",
            "settings-default_currency": "EUR",
        },
    )
    assert response.status_code == 422
    assert "This is not a valid IBAN." in response.get_data(as_text=True)
    assert _fresh(Agency, agency.id).iban is None


def test_client_api_takes_structured_address_and_checks_italian_cap(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {
        "name": "Bottega",
        "country": "IT",
        "sdi_code": "ABC1234",
        "address": "Corso Buenos Aires 10",
        "postal_code": "ABCDE",
        "city": "Milano",
        "province": "MI",
    }
    bad = client.post("/api/v1/clients", json=body, headers=headers)
    assert bad.status_code == 422
    assert "postal_code" in bad.json["errors"]["json"]

    good = client.post("/api/v1/clients", json={**body, "postal_code": "20124"}, headers=headers)
    assert good.status_code == 201, good.json
    with tenant_context(agency.id):
        saved = _fresh(ClientCompany, uuid.UUID(good.json["id"]))
    assert (saved.postal_code, saved.city, saved.province) == ("20124", "Milano", "MI")


def test_client_web_form_refuses_a_three_letter_italian_province(client, auth, database_url):
    agency = make_agency()
    existing = make_client(agency, "Bottega", country="IT", sdi_code="ABC1234")
    auth.login(owner_of(agency).email)
    response = form_post(
        client,
        f"/a/{agency.slug}/clients/{existing.id}/edit",
        {
            "name": "Bottega",
            "country": "IT",
            "sdi_code": "ABC1234",
            "province": "MIL",
            "currency": "EUR",
            "timezone": "Europe/Rome",
            "language": "it",
        },
    )
    assert response.status_code == 422
    assert "two-letter code" in response.get_data(as_text=True)
