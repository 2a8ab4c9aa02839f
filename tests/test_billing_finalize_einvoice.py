"""Finalizing an Italian invoice checks its FatturaPA data first, with the export's own checks:
a refusal names every missing field and where to fix it, changes nothing and uses no number."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.db import db
from billing.models import Invoice, InvoiceCounter
from tenants.context import tenant_context
from tenants.models import Agency, Role
from tests.billing_helpers import add_usage, italian_fiscal_data, make_rate_card
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer, csrf_from
from tests.world import sign_in, snapshot

PERIOD = "2026-10"
IT = {"Accept-Language": "it-IT,it;q=0.9"}


@pytest.fixture
def draft(client):
    """An Italian agency's draft for an Italian client, both with their whole address in the
    street field (as the demo had them) and no IBAN."""
    agency = make_agency("Aurora Social")
    with tenant_context(agency.id):
        seller = db.session.get(Agency, agency.id)
        seller.legal_name, seller.country, seller.tax_regime = "Aurora S.r.l.", "IT", "RF01"
        seller.vat_number, seller.address = "IT01234560124", "Corso Buenos Aires 10, 20124 Milano"
        db.session.commit()
    trattoria = make_client(
        agency,
        "Trattoria",
        legal_name="Bella Vista S.r.l.",
        country="IT",
        vat_number="IT00743110157",
        sdi_code="M5UXCR1",
        address="Via Roma 1, 20121 Milano MI",
    )
    make_rate_card(agency, trattoria)
    add_usage(agency, trattoria, PERIOD, posts=2)
    finance = make_member(agency, Role.FINANCE)
    headers = bearer(token_for(finance, agency))
    (invoice_id,) = client.post(
        "/api/v1/invoices/generate", json={"period": PERIOD}, headers=headers
    ).get_json()["invoice_ids"]
    return agency, trattoria, invoice_id, finance, headers


def _invoice(agency, invoice_id) -> Invoice:  # noqa: ANN001
    with tenant_context(agency.id):
        return db.session.scalar(select(Invoice).where(Invoice.id == uuid.UUID(invoice_id)))


def test_finalize_refuses_missing_fatturapa_data_naming_each_field_and_changes_nothing(
    client, draft
):
    agency, trattoria, invoice_id, _finance, headers = draft
    before = snapshot()
    refused = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=headers)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    errors = refused.get_json()["errors"]
    for field in ("seller.city", "seller.postal_code", "seller.province", "seller.iban"):
        assert field in errors["json"], errors
    for field in ("buyer.city", "buyer.postal_code", "buyer.province"):
        assert field in errors["json"], errors
    assert "no number was used" in refused.get_json()["message"]
    assert snapshot() == before  # no number, no status, no audit row, no counter
    invoice = _invoice(agency, invoice_id)
    assert invoice.status == "draft" and invoice.number is None
    with tenant_context(agency.id):
        assert db.session.scalar(select(InvoiceCounter.last)) in (None, 0)

    italian_fiscal_data(agency, trattoria)  # the data fixed: the first number is still free
    done = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=headers)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["number"].endswith("/0001")
    xml = client.get(f"/api/v1/invoices/{invoice_id}/fatturapa", headers=headers)
    assert xml.status_code == 200 and b"FatturaElettronica" in xml.data


def test_a_foreign_client_of_an_italian_agency_needs_no_fatturapa_to_finalize(client, draft):
    agency, trattoria, invoice_id, _finance, headers = draft
    with tenant_context(agency.id):
        db.session.merge(trattoria).country = "GB"
        db.session.commit()
    done = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=headers)
    assert done.status_code == 200 and done.get_json()["number"].endswith("/0001")


def test_the_draft_page_lists_what_is_missing_and_where_to_fix_it(client, draft):
    agency, trattoria, invoice_id, finance, _headers = draft
    sign_in(client, owner_of(agency))
    url = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    page = client.get(url).get_data(as_text=True)
    assert "e-invoice (FatturaPA) data missing" in page
    assert "The city is missing." in page and "Bank transfer needs the agency" in page
    assert f'href="/a/{agency.slug}/settings"' in page
    assert f'href="/a/{agency.slug}/clients/{trattoria.id}/edit"' in page

    before = snapshot()
    refused = client.post(f"{url}/finalize", data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(url)
    assert snapshot() == before
    shown = client.get(url).get_data(as_text=True)
    assert "cannot be finalized yet" in shown and "The city is missing." in shown
    assert _invoice(agency, invoice_id).number is None

    sign_in(client, finance)  # finance cannot edit them: the page says who can
    page = client.get(url).get_data(as_text=True)
    assert "An owner or manager fixes these in the agency settings." in page
    assert f'href="/a/{agency.slug}/settings"' not in page


def test_the_draft_page_says_what_is_missing_in_italian(client, draft):
    agency, _trattoria, invoice_id, finance, _headers = draft
    sign_in(client, finance)
    url = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    page = client.get(url, headers=IT).get_data(as_text=True)
    assert "dati della fattura elettronica (FatturaPA) mancanti" in page
    assert "Manca il comune." in page
    refused = client.post(f"{url}/finalize", data={"csrf_token": csrf_from(page)}, headers=IT)
    shown = client.get(refused.headers["Location"], headers=IT).get_data(as_text=True)
    assert "non può ancora essere emessa" in shown


def test_finalize_and_void_ask_for_confirmation_without_inline_script(client, draft):
    agency, trattoria, invoice_id, finance, headers = draft
    italian_fiscal_data(agency, trattoria)
    sign_in(client, finance)
    url = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    page = client.get(url).get_data(as_text=True)
    assert 'data-confirm="Finalize this invoice? It takes the next number' in page
    assert "onclick" not in page and "onsubmit" not in page
    client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=headers)
    page = client.get(url).get_data(as_text=True)
    assert 'data-confirm="Void this invoice?' in page
