"""Acceptance 1 of the billing issue, end to end: usage → run → draft → finalize (numbered)
→ Stripe (loopback fake, the billing job in-process) → signed invoice.paid webhook → paid;
a replay of the webhook changes nothing."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.db import db, utcnow
from billing import invoices, lifecycle, stripe_sync
from billing.models import Invoice
from billing.stripe_models import StripeEvent
from tenants.context import tenant_context
from tenants.models import Role
from tenants.permissions import Access
from tenants.service import load_access
from tests.billing_helpers import add_time, add_usage, make_rate_card
from tests.factories import make_agency, make_client, make_member, owner_of
from tests.fakes.base import running
from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET, FakeStripe, sign

PERIOD = "2026-10"


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


def _webhook(web, agency, payload: bytes):  # noqa: ANN001, ANN202
    return web.post(
        "/webhooks/stripe",
        data=payload,
        headers={"Stripe-Signature": sign(payload)},
        query_string={"agency": str(agency.id)},
        content_type="application/json",
    )


def test_usage_to_paid_invoice_through_stripe_and_a_signed_webhook(stripe_app, fake_stripe):
    agency = make_agency()
    stripe_sync.connect(Access(owner_of(agency), agency, Role.OWNER), API_KEY, WEBHOOK_SECRET)
    client = make_client(agency, "Pasticceria Ghiotta")
    finance = make_member(agency, Role.FINANCE)
    # 1 post included, 50.00 per extra post, 10.00 per reply, 60.00 an hour, 1000.00 retainer.
    make_rate_card(agency, client, effective_from=date(2026, 1, 1), posts_included=1)
    add_usage(agency, client, PERIOD, posts=2, replies=1)  # through billing.usage.record
    add_time(agency, client, PERIOD, 90)

    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period(PERIOD)
        draft = db.session.get(Invoice, invoice_id)
        billed = sorted(
            (line.kind, line.amount) for line in invoices.lines_of(invoice_id) if line.amount
        )
        assert billed == [
            ("extra_posts", 5_000),
            ("hours", 9_000),
            ("replies", 1_000),
            ("retainer", 100_000),
        ]
        assert (draft.status, draft.subtotal, draft.tax, draft.total) == (
            "draft",
            115_000,
            25_300,
            140_300,
        )

        lifecycle.finalize(load_access(finance, agency), invoice_id)  # the Stripe job runs here

        db.session.expire_all()
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice.number == f"{utcnow().year}/0001" and invoice.status == "open"
        link = stripe_sync.link_for(invoice_id)
        assert link.sync_status == "synced", (link.attempts, link.last_error)
        stripe_id = link.invoice
    assert len(fake_stripe.customers) == 1
    assert list(fake_stripe.invoices) == [stripe_id]
    stripe_invoice = fake_stripe.invoices[stripe_id]
    assert stripe_invoice["status"] == "open" and fake_stripe.sent == [stripe_id]
    assert stripe_invoice["total"] == 140_300
    # The lines (the included posts at 0.00 too) and one VAT item.
    assert sorted(item["amount"] for item in fake_stripe.items.values()) == [
        0,
        1_000,
        5_000,
        9_000,
        25_300,
        100_000,
    ]

    web = stripe_app.test_client()
    payload = json.dumps(
        {
            "id": "evt_e2e_paid",
            "object": "event",
            "type": "invoice.paid",
            "created": int(time.time()),
            "data": {"object": {"id": stripe_id, "object": "invoice", "metadata": {}}},
            "livemode": False,
        }
    ).encode()
    first = _webhook(web, agency, payload)
    assert first.status_code == 200 and first.json["outcome"] == "paid"

    def state() -> tuple:
        db.session.expire_all()
        with tenant_context(agency.id):
            paid = db.session.get(Invoice, invoice_id)
            events = db.session.scalar(select(func.count()).select_from(StripeEvent))
            audits = db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_id == paid.id)
            )
            return paid.status, paid.paid_at, events, audits

    after_first = state()
    assert after_first[0] == "paid" and after_first[1] is not None
    replay = _webhook(web, agency, payload)
    assert replay.status_code == 200 and replay.json["outcome"] == "duplicate"
    assert state() == after_first
    assert len(fake_stripe.invoices) == 1 and fake_stripe.sent == [stripe_id]
