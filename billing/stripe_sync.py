"""Collecting an invoice through the agency's own Stripe account.

Connection: each agency pastes a **restricted API key** (customers, invoice items, invoices:
write) and the **signing secret** of the webhook endpoint it adds in its Stripe dashboard;
both are stored encrypted (``agency.crypto``) and never rendered back. Regia needs no Stripe
Connect platform of its own, so any self-hosted deployment can collect (README "Stripe").

Sync: finalizing an invoice calls :func:`request_sync` in the same transaction, which records
a ``stripe_invoice_links`` row (``pending``: "finalized locally, to be pushed") and enqueues
:func:`push_invoice` on the ``billing`` queue after commit. The job creates or reuses the
customer, creates the invoice (``send_invoice``, ``days_until_due``) and its items, then
finalizes and sends it; every create carries an idempotency key derived from the invoice
(``regia-<invoice>-item-<n>``), so a retried job never creates anything twice. A Stripe
outage leaves the link ``pending`` with the error, and RQ retries with backoff.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import stripe
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from rq import Retry
from sqlalchemy import select

from agency import audit, crypto, outbound_retry
from agency.db import db, utcnow
from agency.errors import ValidationFailed
from agency.jobs import job, queue
from agency.outbound_stripe import stripe_http_client
from billing.documents import InvoiceDocument
from billing.invoices import document_for
from billing.stripe_models import StripeInvoiceLink, SyncStatus
from tenants.models import Agency
from tenants.permissions import Access, Permission

QUEUE = "billing"
API_KEY_RE = re.compile(r"^(rk|sk)_(test|live)_[A-Za-z0-9]{10,200}$")
WEBHOOK_SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9+/=]{10,200}$")
POLICY = outbound_retry.RetryPolicy(max_attempts=8, base_seconds=60.0, cap_seconds=6 * 3600.0)
# Errors worth retrying: Stripe (or the way to it) is down or busy; all else needs a person.
_RETRYABLE = (stripe.APIConnectionError, stripe.RateLimitError)


@dataclass(frozen=True)
class StripeConnection:
    api_key: str
    webhook_secret: str | None

    @property
    def livemode(self) -> bool:
        return "_live_" in self.api_key


# -- the agency's connection --------------------------------------------------------------


def connection_for(agency: Agency) -> StripeConnection | None:
    secrets = crypto.decrypt_json(agency.stripe_secrets)
    if not secrets.get("api_key"):
        return None
    return StripeConnection(secrets["api_key"], secrets.get("webhook_secret"))


def connect(
    access: Access, api_key: str | None, webhook_secret: str | None, *, via: str = "web"
) -> Agency:
    """Store (or, with both empty, remove) the agency's Stripe key and webhook secret."""
    from agency.errors import PermissionDenied

    if not access.can(Permission.BILLING):
        raise PermissionDenied(_("Your role does not allow connecting Stripe."))
    api_key = (api_key or "").strip()
    webhook_secret = (webhook_secret or "").strip()
    agency = access.agency
    errors: dict[str, list[str]] = {}
    if api_key and not API_KEY_RE.match(api_key):
        errors["api_key"] = [_("Paste a restricted key (rk_live_… or rk_test_…) from Stripe.")]
    if webhook_secret and not WEBHOOK_SECRET_RE.match(webhook_secret):
        errors["webhook_secret"] = [_("Paste the endpoint's signing secret (whsec_…).")]
    if webhook_secret and not api_key:
        errors["api_key"] = [_("Paste the API key too.")]
    if api_key and not webhook_secret:
        errors["webhook_secret"] = [_("Paste the webhook signing secret too.")]
    if errors:
        raise ValidationFailed(errors)
    if not api_key and agency.stripe_secrets is None:
        return agency  # disconnecting what is not connected: nothing to change or audit
    agency.stripe_secrets = (
        crypto.encrypt_json({"api_key": api_key, "webhook_secret": webhook_secret})
        if api_key
        else None
    )
    audit.record_by(
        access,
        "billing.stripe_connected" if api_key else "billing.stripe_disconnected",
        subject_type="agency",
        subject_id=agency.id,
        via=via,
    )
    db.session.commit()
    return agency


def api_client(connection: StripeConnection) -> stripe.StripeClient:
    """The SDK over Regia's outbound client; ``STRIPE_API_BASE`` points it at a loopback fake."""
    base = current_app.config["REGIA"].stripe_api_base
    return stripe.StripeClient(
        connection.api_key,
        base_addresses={"api": base} if base else None,
        http_client=stripe_http_client(),
        max_network_retries=0,  # the job retries, with the same idempotency keys
    )


# -- marking and pushing ------------------------------------------------------------------


def request_sync(invoice_id: uuid.UUID, client_id: uuid.UUID) -> StripeInvoiceLink | None:
    """Mark a just-finalized invoice for Stripe, in the caller's transaction.

    After committing, the caller enqueues the push (``enqueue_push``); should that enqueue be
    lost, :func:`enqueue_pending` (run by the scheduler) finds the link again. Returns None,
    doing nothing, when the agency has no Stripe connection (it collects by bank transfer).
    """
    from tenants.context import current_agency_id

    agency = db.session.get(Agency, current_agency_id())
    if agency is None or connection_for(agency) is None:
        return None
    link = link_for(invoice_id)
    if link is None:
        link = StripeInvoiceLink(invoice_id=invoice_id, client_id=client_id)
        db.session.add(link)
        db.session.flush()
    return link


def enqueue_pending(agency_id: uuid.UUID) -> int:
    """Enqueue the push of every invoice still pending in the agency; returns how many."""
    pending = db.session.scalars(
        select(StripeInvoiceLink.invoice_id).where(
            StripeInvoiceLink.sync_status == SyncStatus.PENDING.value
        )
    ).all()
    for invoice_id in pending:
        enqueue_push(agency_id, invoice_id)
    return len(pending)


def enqueue_push(agency_id: uuid.UUID, invoice_id: uuid.UUID):  # noqa: ANN201
    """Queue the push with RQ's retries spaced by the backoff policy."""
    intervals = [int(POLICY.delay(n)) for n in range(1, POLICY.max_attempts)]
    return queue(QUEUE).enqueue(
        push_invoice,
        str(agency_id),
        str(invoice_id),
        job_id=f"stripe-push-{invoice_id}",  # RQ: letters, digits, _ and - only
        retry=Retry(max=len(intervals), interval=intervals),
        failure_ttl=int(timedelta(days=30).total_seconds()),
    )


def load_document(invoice_id: uuid.UUID) -> InvoiceDocument:
    """The invoice as the billing service renders it (``billing.invoices.document_for``)."""
    return document_for(db.session, invoice_id)


@job
def push_invoice(agency_id: uuid.UUID, invoice_id: str | uuid.UUID) -> str:
    """Create (or find again) the invoice on the agency's Stripe account, finalize and send it.

    Safe to run twice: ids already recorded are reused, and every create carries an
    idempotency key derived from the invoice. Returns the link's sync status.
    """
    invoice_id = uuid.UUID(str(invoice_id))
    link = link_for(invoice_id)
    if link is None or link.sync_status == SyncStatus.SYNCED:
        return link.sync_status if link else "absent"
    agency = db.session.get(Agency, agency_id)
    connection = connection_for(agency) if agency else None
    if connection is None:
        link.last_error = "Stripe is not connected for this agency."
        return link.sync_status
    doc = load_document(invoice_id)
    link.attempts += 1
    try:
        with force_locale(doc.language):  # descriptions in the client's language
            _push(api_client(connection), link, doc)
    except _RETRYABLE as exc:
        _fail(link, exc, permanent=False)
        db.session.commit()
        raise  # RQ retries with backoff (enqueue_push)
    except stripe.APIError as exc:  # Stripe's own 5xx: retry too
        _fail(link, exc, permanent=False)
        db.session.commit()
        raise
    except stripe.StripeError as exc:  # refused: bad key, bad request. Retrying won't help.
        _fail(link, exc, permanent=True)
        db.session.commit()
        current_app.logger.warning("Stripe refused invoice %s: %s", invoice_id, link.last_error)
        return link.sync_status
    link.sync_status = SyncStatus.SYNCED.value
    link.payment_status = link.payment_status or "open"
    link.last_error = None
    link.synced_at = utcnow()
    return link.sync_status


def _fail(link: StripeInvoiceLink, exc: stripe.StripeError, *, permanent: bool) -> None:
    message = getattr(exc, "user_message", None) or str(exc) or type(exc).__name__
    link.last_error = f"{type(exc).__name__}: {message}"[:1000]
    link.sync_status = (SyncStatus.FAILED if permanent else SyncStatus.PENDING).value


def _key(link: StripeInvoiceLink, step: str) -> dict[str, str]:
    return {"idempotency_key": f"regia-{link.invoice_id}-{step}"}


def _push(client: stripe.StripeClient, link: StripeInvoiceLink, doc: InvoiceDocument) -> None:
    currency = doc.currency.lower()
    if not link.customer:
        link.customer = _reusable_customer(link) or _create_customer(client, link, doc)
        db.session.commit()  # a crash after this line reuses the customer
    if not link.invoice:
        days = max(0, (doc.due_date - doc.issue_date).days) if doc.due_date else 30
        created = client.v1.invoices.create(
            {
                "customer": link.customer,
                "collection_method": "send_invoice",
                "days_until_due": days,
                "currency": currency,
                "auto_advance": False,
                "pending_invoice_items_behavior": "exclude",
                "description": _("Invoice %(number)s", number=doc.number),
                "metadata": {
                    "regia_invoice_id": str(link.invoice_id),
                    "regia_agency_id": str(link.agency_id),
                    "regia_number": doc.number,
                },
            },
            _key(link, "invoice"),
        )
        link.invoice = created.id
        db.session.commit()
    invoice = client.v1.invoices.retrieve(link.invoice)
    if invoice.status == "draft":  # else an earlier run finalized it: only sending is left
        _add_items(client, link, doc)
        client.v1.invoices.finalize_invoice(
            link.invoice, {"auto_advance": False}, _key(link, "finalize")
        )
    client.v1.invoices.send_invoice(link.invoice, None, _key(link, "send"))


def _add_items(client: stripe.StripeClient, link: StripeInvoiceLink, doc: InvoiceDocument) -> None:
    currency = doc.currency.lower()
    for n, line in enumerate(doc.lines, start=1):
        client.v1.invoice_items.create(
            {
                "customer": link.customer,
                "invoice": link.invoice,
                "currency": currency,
                "amount": line.amount_minor,
                "description": line.description[:500],
                "metadata": {"regia_line": str(n)},
            },
            _key(link, f"item-{n}"),
        )
    # VAT as one item per rate bucket: Stripe's total is then exactly Regia's.
    for n, bucket in enumerate(doc.vat, start=1):
        if bucket.vat_minor:
            rate = f"{bucket.rate.normalize():f}"
            client.v1.invoice_items.create(
                {
                    "customer": link.customer,
                    "invoice": link.invoice,
                    "currency": currency,
                    "amount": bucket.vat_minor,
                    "description": _("VAT %(rate)s%%", rate=rate),
                    "metadata": {"regia_vat_rate": f"{bucket.rate:f}"},
                },
                _key(link, f"vat-{n}"),
            )


def _reusable_customer(link: StripeInvoiceLink) -> str | None:
    """The Stripe customer an earlier invoice of the same client created."""
    return db.session.scalar(
        select(StripeInvoiceLink.customer)
        .where(
            StripeInvoiceLink.client_id == link.client_id,
            StripeInvoiceLink.customer.is_not(None),
        )
        .limit(1)
    )


def _create_customer(
    client: stripe.StripeClient, link: StripeInvoiceLink, doc: InvoiceDocument
) -> str:
    buyer = doc.buyer
    params: dict = {
        "name": buyer.name,
        "metadata": {"regia_client_id": str(link.client_id)},
        "preferred_locales": [doc.language],
    }
    if buyer.email:
        params["email"] = buyer.email
    address = {
        "line1": buyer.address,
        "postal_code": buyer.postal_code,
        "city": buyer.city,
        "state": buyer.province,
        "country": buyer.country,
    }
    if any(address.values()):
        params["address"] = {k: v for k, v in address.items() if v}
    customer = client.v1.customers.create(
        params, {"idempotency_key": f"regia-{link.client_id}-customer"}
    )
    return customer.id


def link_for(invoice_id: uuid.UUID) -> StripeInvoiceLink | None:
    """What Regia knows of the invoice on Stripe (ids, sync and payment status, last error)."""
    return db.session.scalar(
        select(StripeInvoiceLink).where(StripeInvoiceLink.invoice_id == invoice_id)
    )
