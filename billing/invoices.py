"""Invoice runs (drafts per client per period), draft editing, listing and documents.

A run replaces the drafts of its period and never touches finalized invoices: a client
whose period is already invoiced is skipped. Manual lines of a replaced draft carry over.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, tuple_

from agency import audit
from agency.db import db, utcnow
from agency.errors import IllegalTransition, NotFound, ValidationFailed
from agency.pagination import BadCursor, decode_cursor, encode_cursor
from billing import rates
from billing.lines import Line, make_line, totals, usage_lines
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    TimeEntry,
)
from billing.money import MAX_MINOR
from billing.usage import UsageKind, UsageRecord
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

PERIOD_RE = re.compile(r"^(20\d\d|2100)-(0[1-9]|1[0-2])$")
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_LINES = 200


def check_period(period: object, field: str = "period") -> str:
    if not isinstance(period, str) or not PERIOD_RE.match(period):
        raise ValidationFailed({field: [_("Enter a month as YYYY-MM.")]})
    return period


# -- reading -------------------------------------------------------------------------------


def get_invoice(access: Access, invoice_id: uuid.UUID) -> Invoice:
    """Finance sees every invoice; a client manager only finalized ones of their company."""
    invoice = db.session.scalar(select(Invoice).where(Invoice.id == invoice_id))
    if invoice is None or not can_read(access, invoice):
        raise NotFound(_("No such invoice."))
    return invoice


def can_read(access: Access, invoice: Invoice) -> bool:
    if access.can(Permission.BILLING):
        return True
    return (
        access.can(Permission.READ_OWN_INVOICES, invoice.client_id)
        and invoice.status != InvoiceStatus.DRAFT
    )


def require_reader(access: Access) -> None:
    from billing.rates import require_billing

    if not access.can(Permission.READ_OWN_INVOICES):
        require_billing(access)


def lines_of(invoice_id: uuid.UUID) -> list[InvoiceLine]:
    return list(
        db.session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position)
        )
    )


def list_invoices(
    access: Access,
    *,
    period: str | None = None,
    client_id: uuid.UUID | None = None,
    status: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Invoice], str | None]:
    """One page, newest period first; a client manager sees only their companies' invoices."""
    require_reader(access)
    errors: dict[str, list[str]] = {}
    if period and not PERIOD_RE.match(period):
        errors["period"] = [_("Enter a month as YYYY-MM.")]
    if status and status not in set(InvoiceStatus):
        errors["status"] = [_("Unknown status.")]
    if kind and kind not in set(InvoiceKind):
        errors["kind"] = [_("Unknown kind.")]
    after = None
    if cursor:
        try:
            after = decode_cursor(cursor, (str, uuid.UUID))
        except BadCursor:
            errors["cursor"] = [_("This cursor is not valid.")]
    if errors:
        raise ValidationFailed(errors, location="query")
    stmt = select(Invoice).order_by(Invoice.period.desc(), Invoice.id.desc())
    if not access.can(Permission.BILLING):
        own = [cid for cid in access.client_roles if access.can(Permission.READ_OWN_INVOICES, cid)]
        stmt = stmt.where(Invoice.client_id.in_(own), Invoice.status != InvoiceStatus.DRAFT)
    if period:
        stmt = stmt.where(Invoice.period == period)
    if client_id:
        stmt = stmt.where(Invoice.client_id == client_id)
    if status:
        stmt = stmt.where(Invoice.status == status)
    if kind:
        stmt = stmt.where(Invoice.kind == kind)
    if after:
        stmt = stmt.where(tuple_(Invoice.period, Invoice.id) < after)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    rows = list(db.session.scalars(stmt.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].period, rows[-1].id) if more else None


def lines_by_invoice(invoices: list[Invoice]) -> dict[uuid.UUID, list[InvoiceLine]]:
    """The lines of many invoices in one query (no N+1 on lists)."""
    out: dict[uuid.UUID, list[InvoiceLine]] = {inv.id: [] for inv in invoices}
    if not invoices:
        return out
    for line in db.session.scalars(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id.in_(list(out)))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    ):
        out[line.invoice_id].append(line)
    return out


# -- invoice runs ---------------------------------------------------------------------------


def _usage_counts(client_id: uuid.UUID, period: str) -> tuple[int, int]:
    counts = dict(
        db.session.execute(
            select(UsageRecord.kind, func.count())
            .where(UsageRecord.client_id == client_id, UsageRecord.period == period)
            .group_by(UsageRecord.kind)
        ).all()
    )
    return counts.get(UsageKind.POST.value, 0), counts.get(UsageKind.REPLY.value, 0)


def _minutes(client_id: uuid.UUID, period: str) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(TimeEntry.minutes), 0)).where(
                TimeEntry.client_id == client_id, TimeEntry.period == period
            )
        )
    )


def _as_line(row: InvoiceLine) -> Line:
    return Line(row.kind, row.description, row.quantity, row.unit_amount, row.amount, row.vat_rate)


def write_lines(invoice: Invoice, lines: list[Line]) -> None:
    """Replace a draft's lines and recompute its totals."""
    db.session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    for position, line in enumerate(lines, start=1):
        db.session.add(
            InvoiceLine(
                invoice_id=invoice.id,
                position=position,
                kind=str(line.kind),
                description=line.description,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                amount=line.amount,
                vat_rate=line.vat_rate,
            )
        )
    result = totals(lines)
    invoice.subtotal, invoice.tax, invoice.total = result.subtotal, result.tax, result.total


def generate_for_client(client: ClientCompany, period: str) -> Invoice | None:
    """The client's draft for ``period`` (replacing an earlier draft), or None if not billable."""
    billed = db.session.scalar(
        select(
            select(Invoice.id)
            .where(
                Invoice.client_id == client.id,
                Invoice.period == period,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status != InvoiceStatus.DRAFT,
            )
            .exists()
        )
    )
    card = rates.card_for_period(client.id, period)
    if billed or card is None:
        return None
    drafts = list(
        db.session.scalars(
            select(Invoice).where(
                Invoice.client_id == client.id,
                Invoice.period == period,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.DRAFT,
            )
        )
    )
    manual = [
        _as_line(line)
        for draft in drafts
        for line in lines_of(draft.id)
        if line.kind == LineKind.MANUAL
    ]
    for draft in drafts:
        db.session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == draft.id))
        db.session.delete(draft)
    db.session.flush()
    posts, replies = _usage_counts(client.id, period)
    with force_locale(client.language or "en"):
        lines = usage_lines(card, posts, replies, _minutes(client.id, period))
    lines += manual
    if not lines:
        return None
    invoice = Invoice(
        client_id=client.id,
        period=period,
        currency=card.currency,
        payment_terms_days=card.payment_terms_days,
        kind=InvoiceKind.INVOICE.value,
        status=InvoiceStatus.DRAFT.value,
    )
    db.session.add(invoice)
    db.session.flush()
    write_lines(invoice, lines)
    return invoice


def run_period(
    period: str,
    client_id: uuid.UUID | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[uuid.UUID]:
    """Drafts for every client with a rate card (or the one); ``progress(done, total)`` after each.

    Status does not matter: an offboarded client still owes last month's work."""
    check_period(period)
    stmt = select(ClientCompany).order_by(ClientCompany.name)
    if client_id is not None:
        stmt = stmt.where(ClientCompany.id == client_id)
    clients = list(db.session.scalars(stmt))
    made: list[uuid.UUID] = []
    for done, client in enumerate(clients, start=1):
        invoice = generate_for_client(client, period)
        if invoice is not None:
            made.append(invoice.id)
        db.session.commit()  # one client at a time: progress is real and a failure loses one
        if progress:
            progress(done, len(clients))
    return made


# -- editing drafts --------------------------------------------------------------------------


def editable_draft(access: Access, invoice_id: uuid.UUID) -> Invoice:
    rates.require_billing(access)
    invoice = get_invoice(access, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise IllegalTransition(_("Only a draft can be changed; correct it with a credit note."))
    return invoice


def validate_manual_line(data: Mapping[str, object], currency: str) -> Line:
    errors: dict[str, list[str]] = {}
    description = str(data.get("description") or "").strip()
    if not description:
        errors["description"] = [_("This field is required.")]
    elif len(description) > 500:
        errors["description"] = [_("At most 500 characters.")]
    values: dict[str, Decimal] = {}
    for name, low, high in (
        ("quantity", Decimal("0.01"), Decimal(1_000_000)),
        ("unit_amount", Decimal(-MAX_MINOR), Decimal(MAX_MINOR)),
        ("vat_rate", Decimal(0), Decimal(100)),
    ):
        try:
            value = Decimal(str(data.get(name)).strip().replace(",", "."))
            if not value.is_finite() or not low <= value <= high:
                raise InvalidOperation
            values[name] = value
        except (InvalidOperation, ValueError):
            errors[name] = [_("Enter a number between %(low)s and %(high)s.", low=low, high=high)]
    if "unit_amount" in values and values["unit_amount"] != int(values["unit_amount"]):
        errors["unit_amount"] = [_("Enter whole minor units (cents).")]
    if errors:
        raise ValidationFailed(errors)
    return make_line(
        LineKind.MANUAL,
        description,
        values["quantity"],
        int(values["unit_amount"]),
        values["vat_rate"].quantize(Decimal("0.01")),
    )


def add_manual_line(access: Access, invoice_id: uuid.UUID, data: Mapping[str, object]) -> Invoice:
    invoice = editable_draft(access, invoice_id)
    line = validate_manual_line(data, invoice.currency)
    current = [_as_line(row) for row in lines_of(invoice.id)]
    if len(current) >= MAX_LINES:
        raise ValidationFailed({"description": [_("An invoice has at most 200 lines.")]})
    write_lines(invoice, [*current, line])
    db.session.commit()
    return invoice


def remove_line(access: Access, invoice_id: uuid.UUID, line_id: uuid.UUID) -> Invoice:
    rates.require_billing(access)
    rows = lines_of(get_invoice(access, invoice_id).id)
    if line_id not in {row.id for row in rows}:  # unknown or another agency's: 404 first
        raise NotFound(_("No such line."))
    invoice = editable_draft(access, invoice_id)
    write_lines(invoice, [_as_line(row) for row in rows if row.id != line_id])
    db.session.commit()
    return invoice


def document_for(session, invoice_id: uuid.UUID):  # noqa: ANN001, ANN201
    """The ``billing.documents.InvoiceDocument`` of an invoice (seller agency, buyer client)."""
    from billing.document import document_for as build

    return build(session, invoice_id)


# What Stripe's payment status makes of an invoice (None: the status stays as it is).
_STATUS_OF_STRIPE = {
    "paid": InvoiceStatus.PAID,
    "void": InvoiceStatus.VOID,
    "uncollectible": InvoiceStatus.UNCOLLECTIBLE,
    "payment_failed": None,
}
_FINAL = (InvoiceStatus.PAID, InvoiceStatus.VOID)


def apply_stripe_status(invoice_id: uuid.UUID, status: str) -> Invoice | None:
    """Stripe says the invoice is paid / void / uncollectible / its payment failed.

    In the caller's transaction and tenant context (the webhook). Paid and void are final:
    a later event never moves the invoice out of them; drafts are never touched. Every
    change (and every failed payment) is recorded in the audit log. Returns the invoice.
    """
    if status not in _STATUS_OF_STRIPE:
        raise ValueError(f"unknown Stripe status {status!r}")
    invoice = db.session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invoice is None or invoice.status in (InvoiceStatus.DRAFT, *_FINAL):
        return invoice
    target = _STATUS_OF_STRIPE[status]
    if target is not None and invoice.status == target:
        return invoice
    if target == InvoiceStatus.PAID:
        invoice.paid_at = utcnow()
    elif target == InvoiceStatus.VOID:
        invoice.voided_at = utcnow()
    if target is not None:
        invoice.status = target.value
    audit.record(
        "invoice.payment_failed" if target is None else f"invoice.stripe_{target.value}",
        actor_id=None,
        subject_type="invoice",
        subject_id=invoice.id,
        client_id=invoice.client_id,
        via="stripe",
        number=invoice.number,
    )
    return invoice
