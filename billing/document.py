"""Build the plain-data ``InvoiceDocument`` (billing.documents) from a stored invoice."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.documents import DocumentLine, InvoiceDocument, Party, VatBucket
from billing.lines import Line, totals
from billing.models import Invoice, InvoiceLine
from tenants.models import Agency, ClientCompany


def _party(obj: Agency | ClientCompany, **extra: str | None) -> Party:
    return Party(
        name=obj.legal_name or obj.name,
        country=obj.country or "",
        vat_id=obj.vat_number,
        fiscal_code=obj.fiscal_code,
        address=obj.address,
        # Structured address fields arrive with the exports work; absent until then.
        postal_code=getattr(obj, "postal_code", None),
        city=getattr(obj, "city", None),
        province=getattr(obj, "province", None),
        **extra,
    )


def document_for(session: Session, invoice_id: uuid.UUID) -> InvoiceDocument:
    """The document of one invoice or credit note of the agency in context."""
    invoice = session.scalar(select(Invoice).where(Invoice.id == invoice_id))
    if invoice is None:
        raise LookupError(f"no invoice {invoice_id} in this agency")
    client = session.scalar(select(ClientCompany).where(ClientCompany.id == invoice.client_id))
    agency = session.get(Agency, invoice.agency_id)
    assert client is not None and agency is not None
    rows = list(
        session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(InvoiceLine.position)
        )
    )
    result = totals(
        [Line(r.kind, r.description, r.quantity, r.unit_amount, r.amount, r.vat_rate) for r in rows]
    )
    related = None
    if invoice.credits_invoice_id:
        related = session.scalar(select(Invoice).where(Invoice.id == invoice.credits_invoice_id))
    issued = invoice.issued_at or invoice.created_at
    return InvoiceDocument(
        kind=invoice.kind,
        number=invoice.number or "",
        issue_date=issued.date(),
        currency=invoice.currency,
        language=client.language or "en",
        seller=_party(
            agency,
            tax_regime=agency.tax_regime,
            iban=getattr(agency, "iban", None),
        ),
        buyer=_party(client, email=client.billing_email, pec=client.pec, sdi_code=client.sdi_code),
        lines=tuple(
            DocumentLine(
                description=r.description,
                quantity=Decimal(r.quantity),
                unit_price_minor=r.unit_amount,
                amount_minor=r.amount,
                vat_rate=Decimal(r.vat_rate),
                kind=r.kind,
            )
            for r in rows
        ),
        vat=tuple(VatBucket(rate, taxable, vat) for rate, taxable, vat in result.buckets),
        net_minor=invoice.subtotal,
        vat_minor=invoice.tax,
        total_minor=invoice.total,
        period=invoice.period,
        due_date=invoice.due_at.date() if invoice.due_at else None,
        payment_method=invoice.payment_method,
        related_number=related.number if related else None,
        related_date=related.issued_at.date() if related and related.issued_at else None,
        notes=invoice.notes,
        status=invoice.status,
    )
