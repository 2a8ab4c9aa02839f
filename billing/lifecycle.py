"""Finalize, void, credit note, mark paid: the lifecycle of an invoice after its draft.

Finalizing numbers the invoice under the counter's row lock (billing.numbering), freezes its
lines and totals (on PostgreSQL a trigger refuses any later change to them), and, when the
agency collects through Stripe (``stripe_sync.request_sync`` in the same transaction), hands
it to the ``billing`` queue's Stripe job after commit.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from agency import audit
from agency.db import db, utcnow
from agency.errors import IllegalTransition, NotFound
from billing import fatturapa, numbering, rates, stripe_sync
from billing.exports import ExportRefused
from billing.invoices import _as_line, document_for, get_invoice, lines_of, write_lines
from billing.lines import negated
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from tenants.models import Agency
from tenants.permissions import Access


class EInvoiceIncomplete(ExportRefused):
    """Finalizing would issue an invoice whose FatturaPA the SDI refuses; ``errors`` names
    each field (``seller.city``: agency settings, ``buyer.city``: the client's details)."""

    def __init__(self, errors: dict[str, list[str]], *, credit_note: bool = False) -> None:
        if credit_note:
            message = _(
                "This credit note cannot be issued yet: its e-invoice (FatturaPA) data is "
                "incomplete. Nothing was changed and no number was used."
            )
        else:
            message = _(
                "This invoice cannot be finalized yet: its e-invoice (FatturaPA) data is "
                "incomplete. Nothing was changed and no number was used."
            )
        super(ExportRefused, self).__init__(errors, message)


def e_invoice_problems(invoice: Invoice) -> dict[str, list[str]]:
    """What the FatturaPA export would refuse once ``invoice`` (a draft) is finalized; empty
    when all is well or the invoice needs no FatturaPA (``fatturapa.required``)."""
    doc = document_for(db.session, invoice.id)
    if not fatturapa.required(doc):
        return {}
    agency = db.session.get(Agency, invoice.agency_id)
    stripe = agency is not None and stripe_sync.connection_for(agency) is not None
    doc = replace(doc, payment_method="stripe" if stripe else invoice.payment_method)
    return fatturapa.problems(doc, numbered=False)


def credit_note_problems(invoice: Invoice) -> dict[str, list[str]]:
    """What the FatturaPA export would refuse in the credit note of ``invoice`` (finalized),
    before that note exists: the same checks as finalizing, on the note it would become (TD04,
    naming ``invoice``, its payment method); empty when no FatturaPA is needed."""
    doc = document_for(db.session, invoice.id)
    if not fatturapa.required(doc):
        return {}
    note = replace(
        doc,
        kind=InvoiceKind.CREDIT_NOTE.value,
        number="",
        related_number=invoice.number,
        related_date=invoice.issued_at.date() if invoice.issued_at else None,
        payment_method=invoice.payment_method,
        status=InvoiceStatus.DRAFT.value,
    )
    return fatturapa.problems(note, numbered=False)


def _locked(access: Access, invoice_id: uuid.UUID) -> Invoice:
    """The invoice re-read FOR UPDATE: two concurrent actions on one invoice take turns."""
    rates.require_billing(access)
    get_invoice(access, invoice_id)
    invoice = db.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None:
        raise NotFound(_("No such invoice."))
    return invoice


def finalize(access: Access, invoice_id: uuid.UUID, *, via: str = "web") -> Invoice:
    """Draft → open: a gapless number, issue and due dates, frozen lines; then Stripe."""
    invoice = _locked(access, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise IllegalTransition(_("Only a draft can be finalized."))
    if not lines_of(invoice.id):
        raise IllegalTransition(_("An invoice without lines cannot be finalized."))
    problems = e_invoice_problems(invoice)
    if problems:  # checked before a number is taken: a refusal changes nothing
        raise EInvoiceIncomplete(problems)
    now = utcnow()
    invoice.sequence, invoice.number = numbering.next_number(invoice.kind, now.year)
    invoice.year = now.year
    invoice.status = InvoiceStatus.OPEN.value
    invoice.issued_at = now
    invoice.due_at = now + timedelta(days=invoice.payment_terms_days)
    stripe = stripe_sync.request_sync(invoice.id, invoice.client_id) is not None
    if stripe:
        invoice.payment_method = "stripe"
    audit.record_by(
        access,
        "invoice.finalized",
        subject_type="invoice",
        subject_id=invoice.id,
        client_id=invoice.client_id,
        via=via,
        number=invoice.number,
        total=invoice.total,
    )
    db.session.commit()
    if stripe:
        try:
            enqueue_stripe(access.agency.id, invoice.id)
        except Exception:  # noqa: BLE001 - Redis down: stays "pending" for the Stripe sweeper
            current_app.logger.exception("could not hand invoice %s to Stripe", invoice.id)
    return invoice


def enqueue_stripe(agency_id: uuid.UUID, invoice_id: uuid.UUID) -> None:
    stripe_sync.enqueue_push(agency_id, invoice_id)
    current_app.logger.info("invoice %s handed to Stripe", invoice_id)


def void(access: Access, invoice_id: uuid.UUID, *, via: str = "web") -> Invoice:
    """Open/uncollectible → void; the number stays used (and shown)."""
    invoice = _locked(access, invoice_id)
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise IllegalTransition(_("Only an open or uncollectible invoice can be voided."))
    invoice.status = InvoiceStatus.VOID.value
    invoice.voided_at = utcnow()
    audit.record_by(
        access,
        "invoice.voided",
        subject_type="invoice",
        subject_id=invoice.id,
        client_id=invoice.client_id,
        via=via,
        number=invoice.number,
    )
    db.session.commit()
    return invoice


def mark_paid(access: Access, invoice_id: uuid.UUID, *, via: str = "web") -> Invoice:
    """Paid by hand (bank transfer), recorded in the audit log."""
    invoice = _locked(access, invoice_id)
    if invoice.kind != InvoiceKind.INVOICE or invoice.status not in (
        InvoiceStatus.OPEN,
        InvoiceStatus.UNCOLLECTIBLE,
    ):
        raise IllegalTransition(_("Only an open invoice can be marked paid."))
    invoice.status = InvoiceStatus.PAID.value
    invoice.paid_at = utcnow()
    audit.record_by(
        access,
        "invoice.marked_paid",
        subject_type="invoice",
        subject_id=invoice.id,
        client_id=invoice.client_id,
        via=via,
        number=invoice.number,
        method="bank_transfer",
    )
    db.session.commit()
    return invoice


def credit_note(access: Access, invoice_id: uuid.UUID, *, via: str = "web") -> Invoice:
    """A finalized credit note netting the invoice to zero, numbered in its own series."""
    invoice = _locked(access, invoice_id)
    if invoice.kind != InvoiceKind.INVOICE or invoice.status in (
        InvoiceStatus.DRAFT,
        InvoiceStatus.VOID,
    ):
        raise IllegalTransition(_("Only a finalized, not voided invoice can be credited."))
    already = db.session.scalar(
        select(select(Invoice.id).where(Invoice.credits_invoice_id == invoice.id).exists())
    )
    if already:
        raise IllegalTransition(_("This invoice already has a credit note."))
    problems = credit_note_problems(invoice)
    if problems:  # checked before anything is written or numbered: a refusal changes nothing
        raise EInvoiceIncomplete(problems, credit_note=True)
    now = utcnow()
    note = Invoice(
        client_id=invoice.client_id,
        kind=InvoiceKind.CREDIT_NOTE.value,
        status=InvoiceStatus.DRAFT.value,
        period=invoice.period,
        currency=invoice.currency,
        payment_terms_days=0,
        credits_invoice_id=invoice.id,
        payment_method=invoice.payment_method,
    )
    db.session.add(note)
    db.session.flush()
    write_lines(note, [negated(_as_line(line)) for line in lines_of(invoice.id)])
    db.session.flush()  # the lines go in while the note is a draft (the freeze trigger)
    note.sequence, note.number = numbering.next_number(note.kind, now.year)
    note.year = now.year
    note.status = InvoiceStatus.OPEN.value
    note.issued_at = note.due_at = now
    audit.record_by(
        access,
        "invoice.credited",
        subject_type="invoice",
        subject_id=invoice.id,
        client_id=invoice.client_id,
        via=via,
        number=invoice.number,
        credit_note=note.number,
    )
    db.session.commit()
    return note
