"""Invoice runs, drafts, finalization, void, credit notes and payment, through the HTTP API."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db
from billing.invoices import document_for
from billing.models import Invoice
from tenants.context import tenant_context
from tenants.models import Role
from tests.billing_helpers import add_time, add_usage, make_rate_card
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer

PERIOD = "2026-10"


@pytest.fixture
def desk(app):
    agency = make_agency()
    client = make_client(agency, "Acme", legal_name="Acme S.r.l.", country="IT")
    finance = make_member(agency, Role.FINANCE)
    make_rate_card(agency, client)  # 1000.00 retainer, 1 post included, 22 % VAT
    return agency, client, token_for(finance, agency)


def _generate(http, token: str, **body) -> dict:
    response = http.post(
        "/api/v1/invoices/generate", json={"period": PERIOD, **body}, headers=bearer(token)
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _invoices(http, token: str, **query) -> list[dict]:
    response = http.get("/api/v1/invoices", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_a_run_drafts_retainer_extra_posts_replies_and_hours_with_exact_totals(client, desk):
    agency, acme, token = desk
    add_usage(agency, acme, PERIOD, posts=3, replies=1)
    add_time(agency, acme, PERIOD, 90)
    run = _generate(client, token)
    assert run["status"] == "finished" and len(run["invoice_ids"]) == 1
    (draft,) = _invoices(client, token, period=PERIOD)
    assert draft["status"] == "draft" and draft["number"] is None
    lines = [(x["kind"], x["quantity"], x["unit_amount"], x["amount"]) for x in draft["lines"]]
    assert lines == [
        ("retainer", "1.00", 100_000, 100_000),
        ("posts", "1.00", 0, 0),
        ("extra_posts", "2.00", 5_000, 10_000),
        ("replies", "1.00", 1_000, 1_000),
        ("hours", "1.50", 6_000, 9_000),
    ]
    assert (draft["subtotal"], draft["tax"], draft["total"]) == (120_000, 26_400, 146_400)


def test_rerunning_replaces_drafts_keeps_manual_lines_and_never_touches_finalized(client, desk):
    agency, acme, token = desk
    other = make_client(agency, "Globex", status="active")
    make_rate_card(agency, other, monthly_retainer=50_000)
    first = _generate(client, token)
    assert len(first["invoice_ids"]) == 2
    globex_draft = next(i for i in _invoices(client, token) if i["client_id"] == str(other.id))
    finalized = client.post(
        f"/api/v1/invoices/{globex_draft['id']}/finalize", headers=bearer(token)
    ).get_json()
    with tenant_context(agency.id):
        from billing import invoices as service
        from tenants.service import load_access

        access = load_access(owner_of(agency), agency)
        acme_draft = next(i for i in first["invoice_ids"] if i != globex_draft["id"])
        service.add_manual_line(
            access,
            uuid.UUID(acme_draft),
            {
                "description": "Photo shoot",
                "quantity": "1",
                "unit_amount": "30000",
                "vat_rate": "22",
            },
        )
    add_usage(agency, acme, PERIOD, posts=2)
    second = _generate(client, token)
    assert len(second["invoice_ids"]) == 1  # Globex is invoiced already: skipped
    items = _invoices(client, token, period=PERIOD)
    assert len(items) == 2
    acme_now = next(i for i in items if i["client_id"] == str(acme.id))
    assert acme_now["id"] != acme_draft
    assert [x["kind"] for x in acme_now["lines"]] == ["retainer", "posts", "extra_posts", "manual"]
    globex_now = next(i for i in items if i["client_id"] == str(other.id))
    assert globex_now == finalized


def test_finalize_numbers_freezes_and_void_keeps_the_number(client, desk):
    agency, acme, token = desk
    (invoice_id,) = _generate(client, token)["invoice_ids"]
    done = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=bearer(token))
    assert done.status_code == 200
    body = done.get_json()
    year = body["issued_at"][:4]
    assert body["number"] == f"{year}/0001" and body["status"] == "open"
    assert body["due_at"] > body["issued_at"]
    again = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=bearer(token))
    assert again.status_code == 409 and again.get_json()["code"] == 409
    voided = client.post(f"/api/v1/invoices/{invoice_id}/void", headers=bearer(token)).get_json()
    assert voided["status"] == "void" and voided["number"] == f"{year}/0001"


def test_credit_note_has_its_own_sequence_and_nets_the_invoice_to_zero(client, desk):
    agency, acme, token = desk
    add_usage(agency, acme, PERIOD, posts=4, replies=3)
    (invoice_id,) = _generate(client, token)["invoice_ids"]
    invoice = client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=bearer(token))
    note = client.post(f"/api/v1/invoices/{invoice_id}/credit-note", headers=bearer(token))
    assert note.status_code == 201
    note = note.get_json()
    invoice = invoice.get_json()
    year = invoice["number"][:4]
    assert note["kind"] == "credit_note" and note["number"] == f"NC-{year}/0001"
    assert note["credits_invoice_id"] == invoice_id
    for field in ("subtotal", "tax", "total"):
        assert invoice[field] + note[field] == 0
    twice = client.post(f"/api/v1/invoices/{invoice_id}/credit-note", headers=bearer(token))
    assert twice.status_code == 409
    with tenant_context(agency.id):
        doc = document_for(db.session, uuid.UUID(note["id"]))
    assert doc.related_number == invoice["number"] and doc.total_minor == -invoice["total"]


def test_marking_paid_by_hand_is_audited(client, desk):
    agency, acme, token = desk
    (invoice_id,) = _generate(client, token)["invoice_ids"]
    early = client.post(f"/api/v1/invoices/{invoice_id}/mark-paid", headers=bearer(token))
    assert early.status_code == 409  # a draft is not payable
    client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=bearer(token))
    paid = client.post(f"/api/v1/invoices/{invoice_id}/mark-paid", headers=bearer(token))
    assert paid.get_json()["status"] == "paid"
    with tenant_context(agency.id):
        actions = db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_id == uuid.UUID(invoice_id))
        ).all()
    assert "invoice.marked_paid" in actions and "invoice.finalized" in actions


def test_document_for_names_seller_and_buyer_and_buckets_vat(client, desk):
    agency, acme, token = desk
    add_usage(agency, acme, PERIOD, replies=2)
    (invoice_id,) = _generate(client, token)["invoice_ids"]
    with tenant_context(agency.id):
        doc = document_for(db.session, uuid.UUID(invoice_id))
    assert doc.buyer.name == "Acme S.r.l." and doc.seller.name == agency.name
    assert doc.number == "" and doc.status == "draft" and doc.period == PERIOD
    assert sum(b.taxable_minor for b in doc.vat) == doc.net_minor
    assert doc.net_minor + doc.vat_minor == doc.total_minor == 124_440


def test_rate_card_put_versions_and_validates(client, desk):
    agency, acme, token = desk
    url = f"/api/v1/clients/{acme.id}/rate-card"
    good = {
        "effective_from": "2026-11-01",
        "currency": "JPY",
        "monthly_retainer": 150000,
        "posts_included": 10,
        "price_per_post": 5000,
        "price_per_reply": 1000,
        "hourly_rate": 8000,
        "vat_rate": "10",
        "payment_terms_days": 15,
    }
    saved = client.put(url, json=good, headers=bearer(token))
    assert saved.status_code == 200 and saved.get_json()["vat_rate"] == "10.00"
    bad = client.put(
        url, json={**good, "vat_rate": "120", "monthly_retainer": -1}, headers=bearer(token)
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["json"]) == {"vat_rate", "monthly_retainer"}
    with tenant_context(agency.id):
        from billing.rates import versions

        assert [v.currency for v in versions(acme.id)] == ["JPY", "EUR"]


def test_time_entry_api_checks_assignment_and_fields(client, desk):
    agency, acme, _token = desk
    other = make_client(agency, "Other")
    staff = make_member(agency, Role.STAFF, assigned=[acme])
    token = token_for(staff, agency)
    body = {"client_id": str(acme.id), "minutes": 45, "description": "Calls", "date": "2026-10-03"}
    ok = client.post("/api/v1/time-entries", json=body, headers=bearer(token))
    assert ok.status_code == 201 and ok.get_json()["minutes"] == 45
    elsewhere = client.post(
        "/api/v1/time-entries", json={**body, "client_id": str(other.id)}, headers=bearer(token)
    )
    assert elsewhere.status_code == 404  # staff do not see unassigned clients
    bad = client.post(
        "/api/v1/time-entries", json={**body, "post_id": str(uuid.uuid4())}, headers=bearer(token)
    )
    assert bad.status_code == 422 and "post_id" in bad.get_json()["errors"]["json"]
    with tenant_context(agency.id):
        assert db.session.scalar(select(Invoice.id)) is None
