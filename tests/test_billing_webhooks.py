"""POST /webhooks/stripe: signature verified with the SDK, each event processed once,
out-of-order and duplicate deliveries tolerated, bad signatures 400 with nothing changed."""

from __future__ import annotations

import itertools
import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from agency.db import db
from billing import stripe_sync
from billing.stripe_models import StripeEvent, StripeInvoiceLink
from tenants.context import tenant_context
from tenants.models import Role
from tenants.permissions import Access
from tests.factories import make_agency, make_client, owner_of
from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET, sign

_ids = itertools.count(1)
OTHER_SECRET = "whsec_OtherAgency0123456789abcdef"


def _agency_with_invoice(secret: str = WEBHOOK_SECRET):  # noqa: ANN202
    agency = make_agency()
    stripe_sync.connect(Access(owner_of(agency), agency, Role.OWNER), API_KEY, secret)
    client = make_client(agency, "Pasticceria Ghiotta")
    stripe_invoice = f"in_hook{next(_ids):06d}"
    with tenant_context(agency.id):
        link = StripeInvoiceLink(
            invoice_id=uuid.uuid4(),
            client_id=client.id,
            customer="cus_hook",
            invoice=stripe_invoice,
            sync_status="synced",
            payment_status="open",
        )
        db.session.add(link)
        db.session.commit()
        return agency, link.invoice_id, stripe_invoice


def _event(kind: str, stripe_invoice: str, created: int, **fields) -> bytes:
    invoice = {"id": stripe_invoice, "object": "invoice", "metadata": {}, **fields}
    return json.dumps(
        {
            "id": f"evt_hook{next(_ids):06d}",
            "object": "event",
            "type": kind,
            "created": created,
            "data": {"object": invoice},
            "livemode": False,
        }
    ).encode()


def _post(client, agency, payload: bytes, signature: str | None = None, agency_param=None):  # noqa: ANN001, ANN202
    headers = {"Stripe-Signature": signature if signature is not None else sign(payload)}
    query = {"agency": agency_param or str(agency.id)}
    return client.post(
        "/webhooks/stripe",
        data=payload,
        headers=headers,
        query_string=query,
        content_type="application/json",
    )


def _status(agency, invoice_id) -> str | None:  # noqa: ANN001
    db.session.expire_all()
    with tenant_context(agency.id):
        return stripe_sync.link_for(invoice_id).payment_status


def _events() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(StripeEvent))


def test_signed_paid_event_marks_the_invoice_paid_and_a_replay_changes_nothing(
    client, database_url
):
    agency, invoice_id, stripe_invoice = _agency_with_invoice()
    payload = _event("invoice.paid", stripe_invoice, int(time.time()))

    first = _post(client, agency, payload)
    assert first.status_code == 200 and first.json == {"received": True, "outcome": "paid"}
    assert _status(agency, invoice_id) == "paid"

    replay = _post(client, agency, payload)  # Stripe delivers at least once
    assert replay.status_code == 200 and replay.json["outcome"] == "duplicate"
    assert _events() == 1 and _status(agency, invoice_id) == "paid"


@pytest.mark.parametrize(
    "tamper",
    [
        "wrong_secret",
        "no_header",
        "edited_payload",
        "stale_timestamp",
        "unknown_agency",
        "not_json",
    ],
)
def test_bad_signature_is_400_and_nothing_changes(client, database_url, tamper):  # noqa: ANN001
    agency, invoice_id, stripe_invoice = _agency_with_invoice()
    payload = _event("invoice.paid", stripe_invoice, int(time.time()))
    signature, other_agency = sign(payload), None
    if tamper == "wrong_secret":
        signature = sign(payload, OTHER_SECRET)
    elif tamper == "no_header":
        signature = ""
    elif tamper == "edited_payload":
        payload = payload.replace(b"invoice.paid", b"invoice.voided")
    elif tamper == "stale_timestamp":
        signature = sign(payload, timestamp=int(time.time()) - 3600)
    elif tamper == "unknown_agency":
        other_agency = str(uuid.uuid4())
    elif tamper == "not_json":
        payload = b"{not json"
        signature = sign(payload)

    response = _post(client, agency, payload, signature, other_agency)

    assert response.status_code == 400
    assert response.json["code"] == 400 and response.json["message"]
    assert _events() == 0 and _status(agency, invoice_id) == "open"


def test_late_older_events_never_undo_a_payment(client, database_url):
    agency, invoice_id, stripe_invoice = _agency_with_invoice()
    now = int(time.time())
    paid = _event("invoice.paid", stripe_invoice, now)
    failed_earlier = _event("invoice.payment_failed", stripe_invoice, now - 60, attempt_count=1)
    uncollectible_earlier = _event("invoice.marked_uncollectible", stripe_invoice, now - 30)

    assert _post(client, agency, paid).json["outcome"] == "paid"
    assert _post(client, agency, failed_earlier).json["outcome"] == "stale"
    assert _post(client, agency, uncollectible_earlier).json["outcome"] == "stale"

    assert _status(agency, invoice_id) == "paid"
    assert _events() == 3  # each processed once, recorded


def test_payment_after_uncollectible_wins_and_an_older_uncollectible_is_ignored(
    client, database_url
):
    agency, invoice_id, stripe_invoice = _agency_with_invoice()
    now = int(time.time())
    assert (
        _post(
            client, agency, _event("invoice.marked_uncollectible", stripe_invoice, now - 10)
        ).json["outcome"]
        == "uncollectible"
    )
    assert _post(client, agency, _event("invoice.paid", stripe_invoice, now)).json["outcome"] == (
        "paid"
    )
    assert _status(agency, invoice_id) == "paid"


def test_voided_and_payment_failed_events(client, database_url):
    agency, invoice_id, stripe_invoice = _agency_with_invoice()
    now = int(time.time())
    failed = _post(client, agency, _event("invoice.payment_failed", stripe_invoice, now - 5))
    assert failed.json["outcome"] == "payment_failed"
    with tenant_context(agency.id):
        assert "Payment failed" in stripe_sync.link_for(invoice_id).last_error
    assert _post(client, agency, _event("invoice.voided", stripe_invoice, now)).json["outcome"] == (
        "void"
    )
    assert _status(agency, invoice_id) == "void"


def test_unknown_invoices_and_event_types_are_acknowledged_and_recorded(client, database_url):
    agency, invoice_id, _stripe_invoice = _agency_with_invoice()
    now = int(time.time())
    assert _post(client, agency, _event("invoice.paid", "in_nobody", now)).json["outcome"] == (
        "unknown_invoice"
    )
    assert _post(client, agency, _event("customer.created", "in_x", now)).json["outcome"] == (
        "ignored"
    )
    assert _events() == 2 and _status(agency, invoice_id) == "open"


def test_an_agency_endpoint_cannot_touch_another_agencys_invoice(client, database_url):
    mine, _my_invoice, _ = _agency_with_invoice()
    theirs, their_invoice, their_stripe_invoice = _agency_with_invoice(OTHER_SECRET)
    now = int(time.time())
    # Signed with my secret, sent to my endpoint, naming their Stripe invoice.
    payload = _event("invoice.paid", their_stripe_invoice, now)
    assert _post(client, mine, payload).json["outcome"] == "unknown_invoice"
    # Signed with my secret, sent to their endpoint.
    assert _post(client, theirs, payload, sign(payload, WEBHOOK_SECRET)).status_code == 400
    assert _status(theirs, their_invoice) == "open"


def test_paid_is_final_even_against_a_newer_event(client, database_url):
    agency, invoice_id, stripe_invoice = _agency_with_invoice()
    now = int(time.time())
    assert _post(client, agency, _event("invoice.paid", stripe_invoice, now - 10)).json[
        "outcome"
    ] == ("paid")
    late = _post(client, agency, _event("invoice.voided", stripe_invoice, now))
    assert late.json["outcome"] == "stale"
    assert _status(agency, invoice_id) == "paid"
