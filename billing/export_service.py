"""Finance exports of stored invoices: FatturaPA XML, CSV register/lines, a period's PDFs as ZIP.

Owner and finance only (``rates.require_billing``); the formats themselves live in
billing.fatturapa, billing.csv_export and billing.pdf and never touch the database. A range
is ``from``..``to`` (ISO dates, inclusive) of the issue date; it selects finalized invoices
and credit notes (drafts have no number and are never exported).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import select

from agency.db import db
from agency.errors import IllegalTransition, ValidationFailed
from billing import csv_export, fatturapa, invoices, pdf, rates
from billing.documents import InvoiceDocument
from billing.models import Invoice, InvoiceStatus
from tenants.permissions import Access

KINDS = ("register", "lines")


@dataclass(frozen=True)
class Range:
    start: date
    end: date  # inclusive

    @property
    def label(self) -> tuple[str, str]:
        return self.start.isoformat(), self.end.isoformat()


class EmptyExport(ValidationFailed):
    """The range holds no finalized document: the page says so instead of a header-only CSV or
    an empty ZIP (the API still answers with the empty file, a valid register of nothing)."""

    def __init__(self, period: Range) -> None:
        start, end = format_date(period.start), format_date(period.end)
        message = _(
            "No finalized invoice or credit note was issued from %(start)s to %(end)s: nothing "
            "to download. Widen the dates (by issue date) and try again.",
            start=start,
            end=end,
        )
        super().__init__({}, message, location="query")


def last_month_range(today: date | None = None) -> Range:
    first = (today or date.today()).replace(day=1)
    end = first - timedelta(days=1)
    return Range(end.replace(day=1), end)


def recent_range(today: date | None = None) -> Range:
    """Last month and this month to date: the export page's default, so last month's books and
    an invoice issued this morning are both in it."""
    today = today or date.today()
    return Range(last_month_range(today).start, today)


def parse_range(args: Mapping[str, object]) -> Range:
    """``from``/``to`` from a query string (422 naming a malformed one). Both empty: last month;
    ``from`` alone: until today; ``to`` alone: from its month's first day. A range ending
    before it starts selects nothing."""
    raw_from, raw_to = args.get("from") or "", args.get("to") or ""
    if not raw_from and not raw_to:
        return last_month_range()
    errors: dict[str, list[str]] = {}
    parsed: dict[str, date] = {}
    for field, raw in (("from", raw_from), ("to", raw_to)):
        try:
            if raw:
                parsed[field] = date.fromisoformat(str(raw))
        except ValueError:
            errors[field] = [_("Enter a date as YYYY-MM-DD.")]
    if errors:
        raise ValidationFailed(errors, location="query")
    end = parsed.get("to") or date.today()
    return Range(parsed.get("from") or end.replace(day=1), end)


def parse_kind(value: object) -> str:
    kind = str(value or "register")
    if kind not in KINDS:
        raise ValidationFailed({"kind": [_("Choose register or lines.")]}, location="query")
    return kind


def invoice_ids(period: Range) -> list[uuid.UUID]:
    """Finalized invoices and credit notes issued in the range, in number order."""
    if period.end < period.start:
        return []
    start = datetime.combine(period.start, time.min, tzinfo=UTC)
    end = datetime.combine(period.end, time.max, tzinfo=UTC)
    return list(
        db.session.scalars(
            select(Invoice.id)
            .where(
                Invoice.status != InvoiceStatus.DRAFT.value,
                Invoice.issued_at >= start,
                Invoice.issued_at <= end,
            )
            .order_by(Invoice.kind, Invoice.year, Invoice.sequence)
        )
    )


def documents(ids: list[uuid.UUID]) -> Iterator[InvoiceDocument]:
    """One document at a time (the session's identity map holds them weakly)."""
    for invoice_id in ids:
        yield invoices.document_for(db.session, invoice_id)


def fatturapa_file(access: Access, invoice_id: uuid.UUID) -> fatturapa.FatturaPAFile:
    """The FPR12 XML of a finalized invoice; ``ExportRefused`` (422) names bad fiscal data."""
    rates.require_billing(access)
    invoice = invoices.get_invoice(access, invoice_id)
    if invoice.status == InvoiceStatus.DRAFT:
        raise IllegalTransition(_("Only a finalized invoice can be exported."))
    return fatturapa.build(invoices.document_for(db.session, invoice.id))


def csv_export_for(
    access: Access, args: Mapping[str, object], *, refuse_empty: bool = False
) -> tuple[str, Iterator[bytes]]:
    """(file name, byte chunks) of the register or lines CSV; all input checked up front.
    ``refuse_empty``: ``EmptyExport`` when the range holds no document (the web page)."""
    rates.require_billing(access)
    period = parse_range(args)
    kind = parse_kind(args.get("kind"))
    options = csv_export.parse_options(args.get("delimiter"), args.get("bom") or False)
    ids = invoice_ids(period)
    if refuse_empty and not ids:
        raise EmptyExport(period)
    write = csv_export.lines_csv if kind == "lines" else csv_export.register_csv
    return csv_export.csv_filename(kind, *period.label), write(documents(ids), options)


def zip_export_for(
    access: Access, args: Mapping[str, object], *, refuse_empty: bool = False
) -> tuple[str, Iterator[bytes]]:
    """(file name, byte chunks) of a ZIP with one PDF per finalized document of the range."""
    rates.require_billing(access)
    period = parse_range(args)
    ids = invoice_ids(period)
    if refuse_empty and not ids:
        raise EmptyExport(period)
    start, end = period.label
    return f"invoices-{start}-{end}.zip", pdf.zip_chunks(documents(ids))


def streamed(agency_id: uuid.UUID, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks produced in an app and tenant context of their own (a streamed body outlives
    the view), pushed and popped around each chunk."""
    from flask import current_app

    from tenants.context import tenant_context

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def body() -> Iterator[bytes]:
        chunks_ = iter(chunks)
        while True:  # a context per chunk: none stays pushed while the server sends it
            with app.app_context(), tenant_context(agency_id):
                chunk = next(chunks_, None)
            if chunk is None:
                return
            yield chunk

    return body()


def download(agency_id: uuid.UUID, name: str, chunks: Iterator[bytes], mimetype: str):  # noqa: ANN201
    """A streamed attachment response."""
    from flask import Response

    return Response(
        streamed(agency_id, chunks),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def fatturapa_response(access: Access, invoice_id: uuid.UUID):  # noqa: ANN201
    from flask import Response

    xml = fatturapa_file(access, invoice_id)
    return Response(
        xml.content,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{xml.filename}"'},
    )
