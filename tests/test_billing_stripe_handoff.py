"""Finalizing marks the invoice for Stripe in its transaction and enqueues the push after
commit, only when the agency is connected; Stripe's statuses come back through
billing.invoices.apply_stripe_status."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db
from billing import invoices, lifecycle, stripe_sync
from billing.models import Invoice
from tenants.context import tenant_context
from tenants.models import Role
from tenants.permissions import Access
from tenants.service import load_access
from tests.billing_helpers import make_rate_card
from tests.factories import make_agency, make_client, make_member, owner_of
from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET


@pytest.fixture
def pushed(monkeypatch):
    """What finalize enqueued (the real enqueue is covered by test_billing_end_to_end)."""
    calls: list[tuple[uuid.UUID, uuid.UUID]] = []

    def enqueue_push(agency_id, invoice_id):  # noqa: ANN001, ANN202
        calls.append((agency_id, invoice_id))

    monkeypatch.setattr(stripe_sync, "enqueue_push", enqueue_push)
    return calls


def _finalized_invoice(connected: bool) -> tuple:  # noqa: ANN202 - agency, invoice id
    agency = make_agency()
    if connected:
        stripe_sync.connect(Access(owner_of(agency), agency, Role.OWNER), API_KEY, WEBHOOK_SECRET)
    client = make_client(agency)
    finance = make_member(agency, Role.FINANCE)
    make_rate_card(agency, client)
    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period("2026-10")
        lifecycle.finalize(load_access(finance, agency), invoice_id)
    return agency, invoice_id


@pytest.mark.parametrize("connected", [True, False])
def test_finalize_marks_for_stripe_and_enqueues_only_for_a_connected_agency(app, pushed, connected):
    agency, invoice_id = _finalized_invoice(connected)
    db.session.expire_all()
    with tenant_context(agency.id):
        stored = db.session.get(Invoice, invoice_id)
        link = stripe_sync.link_for(invoice_id)
    if connected:
        assert pushed == [(agency.id, invoice_id)]
        assert stored.payment_method == "stripe"
        assert (link.sync_status, link.client_id) == ("pending", stored.client_id)
    else:
        assert pushed == []
        assert stored.payment_method == "bank_transfer" and link is None


def _apply(agency, invoice_id, status: str) -> str:  # noqa: ANN001
    with tenant_context(agency.id):
        invoices.apply_stripe_status(invoice_id, status)
        db.session.commit()
        db.session.expire_all()
        return db.session.get(Invoice, invoice_id).status


def _actions(agency, invoice_id) -> list[str]:  # noqa: ANN001
    with tenant_context(agency.id):
        return list(
            db.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == invoice_id, AuditEvent.via == "stripe")
                .order_by(AuditEvent.created_at)
            )
        )


def test_stripe_paid_is_final_and_audited(app, pushed):
    agency, invoice_id = _finalized_invoice(True)
    assert _apply(agency, invoice_id, "payment_failed") == "open"
    assert _apply(agency, invoice_id, "paid") == "paid"
    assert _apply(agency, invoice_id, "void") == "paid"
    assert _apply(agency, invoice_id, "uncollectible") == "paid"
    assert _actions(agency, invoice_id) == ["invoice.payment_failed", "invoice.stripe_paid"]


def test_stripe_uncollectible_then_void_is_final(app, pushed):
    agency, invoice_id = _finalized_invoice(True)
    assert _apply(agency, invoice_id, "uncollectible") == "uncollectible"
    assert _apply(agency, invoice_id, "void") == "void"
    assert _apply(agency, invoice_id, "paid") == "void"
    assert _actions(agency, invoice_id) == ["invoice.stripe_uncollectible", "invoice.stripe_void"]
