"""Stripe webhook events: verified, processed once, tolerant of duplicates and disorder.

Each agency adds ``/webhooks/stripe?agency=<id>`` as an endpoint in its own Stripe account
and pastes the endpoint's signing secret into Regia (``billing.stripe_sync.connect``); the
payload is verified with that secret by the SDK before anything is read from it.

Once: the event id is claimed (``stripe_events``, unique per agency) in the same
transaction that applies it, so a duplicate delivery, concurrent or later, changes nothing.
Disorder: a ``paid`` or ``void`` invoice never goes back; otherwise an event older than the
one that set the current status is ignored (Stripe's ``created``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agency.db import db
from agency.errors import DomainError
from billing.invoices import apply_stripe_status
from billing.stripe_models import StripeEvent, StripeInvoiceLink
from billing.stripe_sync import connection_for, link_for
from tenants.context import tenant_context
from tenants.models import Agency

# What each invoice event says about the invoice's status (None: still open).
STATUS_OF_EVENT = {
    "invoice.paid": "paid",
    "invoice.voided": "void",
    "invoice.marked_uncollectible": "uncollectible",
    "invoice.payment_failed": None,
}
TERMINAL = {"paid", "void"}
TOLERANCE_SECONDS = 300  # Stripe's default: older signatures are replays


class WebhookRejected(DomainError):
    """Not a genuine event for a known endpoint: 400, and nothing is stored."""

    http_status = 400


def receive(agency_param: str | None, payload: bytes, signature: str | None) -> str:
    """Verify and apply one delivery; returns what happened (for the response and logs)."""
    agency = _agency(agency_param)
    connection = connection_for(agency) if agency else None
    if connection is None or not connection.webhook_secret:
        raise WebhookRejected("No Stripe webhook is configured for this endpoint.")
    try:
        stripe.Webhook.construct_event(
            payload, signature or "", connection.webhook_secret, tolerance=TOLERANCE_SECONDS
        )
        # The verified bytes, as plain data (the SDK's objects are not dicts).
        event = json.loads(payload)
        if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
            raise ValueError("not an event")
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise WebhookRejected("The Stripe signature does not match this payload.") from exc
    with tenant_context(agency.id):
        try:
            outcome = _claim_and_apply(agency.id, event)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another delivery of this event got there first
            return "duplicate"
        except BaseException:
            db.session.rollback()  # not claimed: Stripe delivers it again
            raise
    return outcome


def _agency(agency_param: str | None) -> Agency | None:
    try:
        agency_id = uuid.UUID(str(agency_param))
    except ValueError:
        return None
    return db.session.get(Agency, agency_id)


def _claim_and_apply(agency_id: uuid.UUID, event: Any) -> str:
    already = db.session.scalar(
        select(StripeEvent.id).where(
            StripeEvent.agency_id == agency_id, StripeEvent.event_id == event["id"]
        )
    )
    if already is not None:
        return "duplicate"
    claim = StripeEvent(
        agency_id=agency_id,
        event_id=str(event["id"])[:255],
        type=str(event["type"])[:100],
        stripe_created=int(event["created"]),
        outcome="pending",
    )
    db.session.add(claim)
    db.session.flush()  # the unique (agency_id, event_id) decides between racing deliveries
    claim.outcome = _apply(event)
    return claim.outcome


def _apply(event: Any) -> str:
    kind = event["type"]
    if kind not in STATUS_OF_EVENT:
        return "ignored"
    invoice = event["data"]["object"]
    link = _link_of(invoice)
    if link is None:
        return "unknown_invoice"
    created = int(event["created"])
    if kind == "invoice.payment_failed":
        if link.payment_status in TERMINAL:
            return "stale"
        link.last_error = f"Payment failed (attempt {invoice.get('attempt_count') or 1})."
        apply_stripe_status(link.invoice_id, "payment_failed")
        return "payment_failed"
    status = STATUS_OF_EVENT[kind]
    if link.payment_status == status:
        return "unchanged"
    if link.payment_status in TERMINAL:
        return "stale"  # paid and void are final; an older event arrived late
    if link.last_event_created and created < link.last_event_created and status not in TERMINAL:
        return "stale"
    link.payment_status = status
    link.last_event_created = max(created, link.last_event_created or 0)
    if status == "paid":
        link.last_error = None
    apply_stripe_status(link.invoice_id, status)
    return status


def _link_of(invoice: Any) -> StripeInvoiceLink | None:
    link = db.session.scalar(
        select(StripeInvoiceLink).where(StripeInvoiceLink.invoice == str(invoice.get("id")))
    )
    if link is not None:
        return link
    regia_id = (invoice.get("metadata") or {}).get("regia_invoice_id")
    try:
        return link_for(uuid.UUID(str(regia_id))) if regia_id else None
    except ValueError:
        return None
