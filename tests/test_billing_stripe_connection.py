"""Connecting the agency's Stripe account (owner and finance), through the API and the page:
secrets validated, stored encrypted, never shown back."""

from __future__ import annotations

from agency.db import db
from billing import stripe_sync
from tenants.models import Agency, Role
from tests.factories import make_agency, make_member, owner_of, token_for
from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET
from tests.helpers import bearer, form_post

BODY = {"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET}


def _connection(agency):  # noqa: ANN001, ANN202
    db.session.expire_all()
    return stripe_sync.connection_for(db.session.get(Agency, agency.id))


def test_finance_connects_stripe_through_the_api_and_never_sees_the_secrets(client, database_url):
    agency = make_agency()
    finance = make_member(agency, Role.FINANCE)
    headers = bearer(token_for(finance, agency))

    response = client.put("/api/v1/stripe-connection", json=BODY, headers=headers)

    assert response.status_code == 200, response.json
    assert response.json["connected"] is True and response.json["livemode"] is False
    assert f"/webhooks/stripe?agency={agency.id}" in response.json["webhook_url"]
    text = response.get_data(as_text=True)
    assert API_KEY not in text and WEBHOOK_SECRET not in text
    assert _connection(agency).api_key == API_KEY
    again = client.get("/api/v1/stripe-connection", headers=headers)
    assert again.json["connected"] is True and API_KEY not in again.get_data(as_text=True)


def test_bad_key_is_422_and_nothing_is_stored(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {"api_key": "pk_live_publishable_key_here", "webhook_secret": WEBHOOK_SECRET}

    response = client.put("/api/v1/stripe-connection", json=body, headers=headers)

    assert response.status_code == 422
    assert "api_key" in response.json["errors"]["json"]
    assert _connection(agency) is None


def test_managers_and_staff_cannot_touch_stripe(client, database_url):
    agency = make_agency()
    for role in (Role.MANAGER, Role.STAFF):
        member = make_member(agency, role)
        headers = bearer(token_for(member, agency))
        for response in (
            client.put("/api/v1/stripe-connection", json=BODY, headers=headers),
            client.get("/api/v1/stripe-connection", headers=headers),
        ):
            assert response.status_code == 403, role
            assert response.json["message"] == "Your role does not allow this."
    assert _connection(agency) is None


def test_blank_values_disconnect(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    client.put("/api/v1/stripe-connection", json=BODY, headers=headers)

    response = client.put(
        "/api/v1/stripe-connection", json={"api_key": "", "webhook_secret": None}, headers=headers
    )

    assert response.status_code == 200 and response.json["connected"] is False
    assert _connection(agency) is None


def test_the_page_saves_and_shows_the_webhook_endpoint_not_the_secret(client, auth, database_url):
    agency = make_agency()
    finance = make_member(agency, Role.FINANCE)
    auth.login(finance.email)
    url = f"/a/{agency.slug}/billing/stripe"

    saved = form_post(client, url, BODY)
    assert saved.status_code == 302

    page = client.get(url).get_data(as_text=True)
    assert "Connected" in page and f"/webhooks/stripe?agency={agency.id}" in page
    assert API_KEY not in page and WEBHOOK_SECRET not in page
    bad = form_post(client, url, {"api_key": "nonsense", "webhook_secret": WEBHOOK_SECRET})
    assert bad.status_code == 422 and "restricted key" in bad.get_data(as_text=True)
    assert _connection(agency).api_key == API_KEY
