"""A credit note to an Italian client is a FatturaPA (TD04) too: issuing one runs the same
completeness checks as finalizing an invoice, and a refusal names every missing field, changes
nothing and uses no number; a complete one exports as an XSD-valid TD04 naming its invoice."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from agency.db import db
from billing import fatturapa
from billing.models import Invoice
from tenants.context import tenant_context
from tenants.models import ClientCompany, Role
from tests.billing_documents import fatturapa_schema
from tests.billing_helpers import add_usage, italian_fiscal_data, make_rate_card
from tests.factories import make_agency, make_client, make_member, token_for
from tests.helpers import bearer, csrf_from
from tests.world import sign_in, snapshot

PERIOD = "2026-10"
NS = {"p": fatturapa.NS}


@pytest.fixture
def finalized(client):
    """An Italian agency's finalized invoice to an Italian client whose address has since
    lost its city, postal code and province (edited after the invoice went out)."""
    agency = make_agency("Aurora Social")
    trattoria = make_client(agency, "Trattoria", legal_name="Bella Vista S.r.l.")
    italian_fiscal_data(agency, trattoria)
    make_rate_card(agency, trattoria)
    add_usage(agency, trattoria, PERIOD, posts=2)
    finance = make_member(agency, Role.FINANCE)
    headers = bearer(token_for(finance, agency))
    generated = client.post("/api/v1/invoices/generate", json={"period": PERIOD}, headers=headers)
    (invoice_id,) = generated.get_json()["invoice_ids"]
    done = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=headers)
    assert done.status_code == 200, done.get_data(as_text=True)
    with tenant_context(agency.id):
        buyer = db.session.get(ClientCompany, trattoria.id)
        buyer.city = buyer.postal_code = buyer.province = None
        db.session.commit()
    return agency, trattoria, invoice_id, finance, headers


def _credit_notes(agency) -> list[Invoice]:  # noqa: ANN001
    with tenant_context(agency.id):
        return list(db.session.scalars(select(Invoice).where(Invoice.kind == "credit_note")))


def test_an_incomplete_credit_note_is_refused_naming_each_field_and_changes_nothing(
    client, finalized
):
    agency, trattoria, invoice_id, _finance, headers = finalized
    before = snapshot()
    refused = client.post(f"/api/v1/invoices/{invoice_id}/credit-note", headers=headers)
    assert refused.status_code == 422, refused.get_data(as_text=True)
    errors = refused.get_json()["errors"]["json"]
    assert {"buyer.city", "buyer.postal_code", "buyer.province"} <= set(errors), errors
    assert "credit note cannot be issued yet" in refused.get_json()["message"]
    assert "no number was used" in refused.get_json()["message"]
    assert snapshot() == before  # no note, no lines, no counter, no audit row
    assert _credit_notes(agency) == []

    italian_fiscal_data(agency, trattoria)  # fixed: the note takes the series' first number
    issued = client.post(f"/api/v1/invoices/{invoice_id}/credit-note", headers=headers)
    assert issued.status_code == 201, issued.get_data(as_text=True)
    note = issued.get_json()
    assert note["kind"] == "credit_note" and note["number"].endswith("/0001")
    xml = client.get(f"/api/v1/invoices/{note['id']}/fatturapa", headers=headers)
    assert xml.status_code == 200
    fatturapa_schema().validate(xml.data)  # raises on any schema error
    root = ET.fromstring(xml.data)  # noqa: S314 - our own output
    assert [n.text for n in root.iterfind(".//TipoDocumento", NS)] == ["TD04"]
    invoice_number = client.get(f"/api/v1/invoices/{invoice_id}", headers=headers).get_json()
    linked = [n.text for n in root.iterfind(".//DatiFattureCollegate/IdDocumento", NS)]
    assert linked == [invoice_number["number"]]


def test_the_invoice_page_lists_what_a_credit_note_misses_and_refuses_it(client, finalized):
    agency, trattoria, invoice_id, finance, _headers = finalized
    sign_in(client, finance)
    url = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Before a credit note: e-invoice (FatturaPA) data missing" in page
    assert "The city is missing." in page
    assert "An owner or manager fixes these in the client" in page
    before = snapshot()
    refused = client.post(f"{url}/credit-note", data={"csrf_token": csrf_from(page)})
    assert refused.status_code == 303 and refused.headers["Location"].endswith(url)
    assert snapshot() == before
    shown = client.get(url).get_data(as_text=True)
    assert "This credit note cannot be issued yet" in shown and "The city is missing." in shown
    assert _credit_notes(agency) == []

    italian_fiscal_data(agency, trattoria)
    page = client.get(url).get_data(as_text=True)
    assert "FatturaPA) data missing" not in page
    issued = client.post(f"{url}/credit-note", data={"csrf_token": csrf_from(page)})
    assert issued.status_code == 302
    (note,) = _credit_notes(agency)
    assert note.status == "open" and note.credits_invoice_id == uuid.UUID(invoice_id)
    assert "FatturaPA) data missing" not in client.get(url).get_data(as_text=True)


def test_a_foreign_clients_credit_note_needs_no_fatturapa(client, finalized):
    agency, trattoria, invoice_id, _finance, headers = finalized
    with tenant_context(agency.id):
        db.session.get(ClientCompany, trattoria.id).country = "GB"
        db.session.commit()
    issued = client.post(f"/api/v1/invoices/{invoice_id}/credit-note", headers=headers)
    assert issued.status_code == 201 and issued.get_json()["number"].endswith("/0001")
