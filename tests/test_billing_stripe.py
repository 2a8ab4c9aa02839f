"""Pushing a finalized invoice to the agency's Stripe account (tests/fakes/stripe.py over
loopback HTTP, the official SDK through agency.outbound_stripe; no mocking of HTTP)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.db import db
from agency.errors import PermissionDenied, ValidationFailed
from billing import stripe_sync
from billing.stripe_models import StripeInvoiceLink
from tenants.context import tenant_context
from tenants.models import Agency, Role
from tenants.permissions import Access
from tests.billing_documents import document
from tests.factories import make_agency, make_client, owner_of
from tests.fakes.base import running
from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET, FakeStripe


@pytest.fixture(scope="module")
def fake_stripe():
    yield from running(FakeStripe())


@pytest.fixture(scope="module")
def _stripe_app(make_app, fake_stripe):
    return make_app(stripe_api_base=fake_stripe.url, allow_private_hosts=True)


@pytest.fixture
def stripe_app(_stripe_app, fake_stripe, database_url):
    fake_stripe.reset()
    with _stripe_app.app_context():
        yield _stripe_app


@pytest.fixture
def documents(monkeypatch):
    """invoice id -> InvoiceDocument, read by push_invoice as billing.invoices would."""
    docs: dict[uuid.UUID, object] = {}
    monkeypatch.setattr(stripe_sync, "load_document", lambda invoice_id: docs[invoice_id])
    return docs


def _access(agency: Agency, role: Role = Role.OWNER) -> Access:
    return Access(owner_of(agency), agency, role)


def _connected_agency(api_key: str = API_KEY):  # noqa: ANN202
    agency = make_agency()
    stripe_sync.connect(_access(agency), api_key, WEBHOOK_SECRET, via="api")
    client = make_client(agency, "Pasticceria Ghiotta")
    return agency, client


def _finalized(agency, client, documents, **changes) -> uuid.UUID:  # noqa: ANN001
    invoice_id = uuid.uuid4()
    documents[invoice_id] = document(**changes)
    with tenant_context(agency.id):
        assert stripe_sync.request_sync(invoice_id, client.id) is not None
        db.session.commit()
    return invoice_id


def _link(agency, invoice_id) -> StripeInvoiceLink:  # noqa: ANN001
    db.session.expire_all()
    with tenant_context(agency.id):
        return stripe_sync.link_for(invoice_id)


def test_push_creates_customer_items_invoice_then_finalizes_and_sends(
    stripe_app, fake_stripe, documents
):
    agency, client = _connected_agency()
    invoice_id = _finalized(agency, client, documents)

    assert stripe_sync.push_invoice(agency.id, invoice_id) == "synced"

    link = _link(agency, invoice_id)
    assert (link.sync_status, link.payment_status, link.last_error) == ("synced", "open", None)
    stripe_invoice = fake_stripe.invoices[link.invoice]
    assert stripe_invoice["status"] == "open" and fake_stripe.sent == [link.invoice]
    assert stripe_invoice["collection_method"] == "send_invoice"
    assert stripe_invoice["days_until_due"] == 30
    assert stripe_invoice["metadata"]["regia_invoice_id"] == str(invoice_id)
    # 4 lines + 1 VAT bucket: Stripe's total is Regia's, to the cent.
    assert stripe_invoice["total"] == document().total_minor == 121390
    assert len(fake_stripe.customers) == 1
    customer = fake_stripe.customers[link.customer]
    assert customer["address"]["postal_code"] == "20124" and customer["preferred_locales"] == ["it"]
    keys = [r.header("idempotency-key") for r in fake_stripe.calls("POST")]
    assert keys == [
        f"regia-{client.id}-customer",
        f"regia-{invoice_id}-invoice",
        *(f"regia-{invoice_id}-item-{n}" for n in range(1, 5)),
        f"regia-{invoice_id}-vat-1",
        f"regia-{invoice_id}-finalize",
        f"regia-{invoice_id}-send",
    ]
    assert all(r.header("authorization") == f"Bearer {API_KEY}" for r in fake_stripe.requests)


def test_a_rerun_that_lost_its_records_creates_nothing_twice(stripe_app, fake_stripe, documents):
    agency, client = _connected_agency()
    invoice_id = _finalized(agency, client, documents)
    stripe_sync.push_invoice(agency.id, invoice_id)
    # As if the job's writes were lost after Stripe did the work: everything is sent again.
    with tenant_context(agency.id):
        link = stripe_sync.link_for(invoice_id)
        link.customer = link.invoice = None
        link.sync_status = "pending"
        db.session.commit()

    assert stripe_sync.push_invoice(agency.id, invoice_id) == "synced"

    assert len(fake_stripe.customers) == 1
    assert len(fake_stripe.invoices) == 1
    assert len(fake_stripe.items) == 5
    assert len(fake_stripe.sent) == 1
    # Customer and invoice came back from their idempotency keys; the invoice was open
    # already, so only the (replayed) send followed.
    rerun = [r.path.rsplit("/", 1)[-1] for r in fake_stripe.calls("POST")][9:]
    assert rerun == ["customers", "invoices", "send"]


def test_stripe_outage_leaves_the_invoice_pending_then_a_retry_completes_it(
    stripe_app, fake_stripe, documents
):
    agency, client = _connected_agency()
    invoice_id = _finalized(agency, client, documents)
    fake_stripe.fail("POST", "/v1/invoiceitems", 503, {"error": {"type": "api_error"}})

    with pytest.raises(Exception):  # noqa: B017 - the SDK's APIError, for RQ to retry
        stripe_sync.push_invoice(agency.id, invoice_id)

    link = _link(agency, invoice_id)
    assert link.sync_status == "pending" and "APIError" in link.last_error
    assert link.attempts == 1 and link.invoice is not None
    assert fake_stripe.sent == []

    assert stripe_sync.push_invoice(agency.id, invoice_id) == "synced"
    link = _link(agency, invoice_id)
    assert (link.sync_status, link.attempts, link.last_error) == ("synced", 2, None)
    assert len(fake_stripe.invoices) == 1 and len(fake_stripe.items) == 5


def test_lost_answer_to_finalize_is_reconciled_not_repeated(stripe_app, fake_stripe, documents):
    agency, client = _connected_agency()
    invoice_id = _finalized(agency, client, documents)
    fake_stripe.fail("POST", "/v1/invoiceitems", 503, {"error": {"type": "api_error"}})
    with pytest.raises(Exception):  # noqa: B017
        stripe_sync.push_invoice(agency.id, invoice_id)
    stripe_id = _link(agency, invoice_id).invoice
    # Stripe finalizes, then the answer is lost: the outcome is unknown to the job.
    fake_stripe.drop_after_commit("POST", f"/v1/invoices/{stripe_id}/finalize")
    with pytest.raises(Exception):  # noqa: B017 - APIConnectionError
        stripe_sync.push_invoice(agency.id, invoice_id)
    assert fake_stripe.invoices[stripe_id]["status"] == "open"
    assert _link(agency, invoice_id).sync_status == "pending"

    # The retry looks the invoice up instead of finalizing (or adding items) again.
    assert stripe_sync.push_invoice(agency.id, invoice_id) == "synced"
    assert len(fake_stripe.calls("POST", f"/v1/invoices/{stripe_id}/finalize")) == 1
    assert fake_stripe.sent == [stripe_id]
    assert len(fake_stripe.items) == 5


def test_refused_key_fails_the_sync_for_a_person_without_retrying(
    stripe_app, fake_stripe, documents
):
    agency, client = _connected_agency(api_key="rk_test_revokedrevokedrevoked")
    invoice_id = _finalized(agency, client, documents)

    assert stripe_sync.push_invoice(agency.id, invoice_id) == "failed"

    link = _link(agency, invoice_id)
    assert link.sync_status == "failed" and "AuthenticationError" in link.last_error
    assert fake_stripe.customers == {} or all(
        c["id"] != link.customer for c in fake_stripe.customers.values()
    )


def test_second_invoice_of_a_client_reuses_its_stripe_customer(stripe_app, fake_stripe, documents):
    agency, client = _connected_agency()
    first = _finalized(agency, client, documents)
    second = _finalized(agency, client, documents, number="2026/0002")
    stripe_sync.push_invoice(agency.id, first)
    customers_before = len(fake_stripe.customers)

    stripe_sync.push_invoice(agency.id, second)

    assert len(fake_stripe.customers) == customers_before
    assert _link(agency, first).customer == _link(agency, second).customer
    assert _link(agency, first).invoice != _link(agency, second).invoice


def test_agency_without_stripe_collects_by_bank_transfer_only(stripe_app, documents):
    agency = make_agency()
    client = make_client(agency, "Bottega")
    with tenant_context(agency.id):
        assert stripe_sync.request_sync(uuid.uuid4(), client.id) is None
        assert db.session.scalar(select(StripeInvoiceLink)) is None


def test_stripe_secrets_are_stored_encrypted_and_validated(stripe_app):
    agency = make_agency()
    with pytest.raises(ValidationFailed) as bad:
        stripe_sync.connect(_access(agency), "pk_test_publishable", "nope")
    assert set(bad.value.errors) == {"api_key", "webhook_secret"}
    with pytest.raises(PermissionDenied):
        stripe_sync.connect(_access(agency, Role.MANAGER), API_KEY, WEBHOOK_SECRET)

    stripe_sync.connect(_access(agency), API_KEY, WEBHOOK_SECRET)

    raw = db.session.scalar(select(Agency.stripe_secrets).where(Agency.id == agency.id))
    assert raw and API_KEY not in raw and WEBHOOK_SECRET not in raw
    db.session.expire_all()
    connection = stripe_sync.connection_for(db.session.get(Agency, agency.id))
    assert (connection.api_key, connection.webhook_secret) == (API_KEY, WEBHOOK_SECRET)
