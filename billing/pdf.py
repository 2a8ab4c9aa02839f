"""Invoice PDFs (fpdf2, pure Python) in the client's language, and a period's PDFs as a ZIP.

Documents start from ``agency.pdf.new_document`` (DejaVu Sans bundled in agency/static/fonts,
registered as ``FONT``), with this module's margins.
The ZIP is produced one PDF at a time (``zip_chunks``), so memory stays flat however many
invoices a period has.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date
from typing import TYPE_CHECKING

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from flask_babel import force_locale
from flask_babel import gettext as _

from agency import pdf as agency_pdf
from billing.documents import InvoiceDocument, Party
from billing.exports import to_decimal
from billing.labels import status_label

if TYPE_CHECKING:  # fpdf2 is imported when a document is made (agency.pdf), not at start-up
    from fpdf import FPDF

FONT = agency_pdf.FAMILY
_LINE = 5.0  # mm, body text line height


def new_document() -> FPDF:
    """An A4 portrait FPDF with DejaVu Sans (regular and bold) registered as ``FONT``."""
    pdf = agency_pdf.new_document()
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 16, 18)
    return pdf


class _Writer:
    """Formats in the document's language; every label goes through gettext."""

    def __init__(self, doc: InvoiceDocument) -> None:
        self.doc = doc
        self.locale = "it_IT" if doc.language == "it" else "en_GB"
        self.pdf = new_document()

    def money(self, amount_minor: int) -> str:
        value = to_decimal(amount_minor, self.doc.currency)
        return format_currency(value, self.doc.currency, locale=self.locale)

    def day(self, value: date | None) -> str:
        return format_date(value, format="medium", locale=self.locale) if value else "—"

    def text(self, value: str, *, size: float = 9.5, bold: bool = False, height: float = _LINE):
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.multi_cell(0, height, value, new_x="LMARGIN", new_y="NEXT")

    def title(self) -> str:
        doc = self.doc
        name = _("Credit note") if doc.kind == "credit_note" else _("Invoice")
        if not doc.number:
            return _("Draft %(document)s", document=name.lower())
        return f"{name} {doc.number}"

    def party_lines(self, party: Party) -> list[str]:
        lines = [party.name]
        if party.address:
            lines.append(party.address)
        place = " ".join(p for p in (party.postal_code, party.city) if p)
        if party.province:
            place = f"{place} ({party.province})" if place else party.province
        if place:
            lines.append(place)
        if party.country:
            lines.append(Locale.parse(self.locale).territories.get(party.country, party.country))
        if party.vat_id:
            lines.append(_("VAT id: %(value)s", value=party.vat_id))
        if party.fiscal_code and party.fiscal_code != (party.vat_id or "")[2:]:
            lines.append(_("Fiscal code: %(value)s", value=party.fiscal_code))
        if party.sdi_code:
            lines.append(_("SDI code: %(value)s", value=party.sdi_code))
        if party.pec:
            lines.append(_("PEC: %(value)s", value=party.pec))
        if party.email:
            lines.append(party.email)
        return lines

    def header(self) -> None:
        pdf, doc = self.pdf, self.doc
        pdf.add_page()
        self.text(doc.seller.name, size=14, bold=True, height=7)
        self.text("\n".join(self.party_lines(doc.seller)[1:]), size=8.5, height=4.2)
        pdf.ln(6)
        self.text(self.title(), size=16, bold=True, height=8)
        facts = [
            (_("Issue date"), self.day(doc.issue_date)),
            (_("Due date"), self.day(doc.due_date)),
        ]
        if doc.period:
            facts.append((_("Period"), doc.period))
        if doc.kind == "credit_note" and doc.related_number:
            facts.append((_("Corrects invoice"), doc.related_number))
        if doc.status in {"paid", "void", "uncollectible"}:
            facts.append((_("Status"), status_label(doc.status)))
        for label, value in facts:
            pdf.set_font(FONT, "B", 9.5)
            pdf.cell(38, _LINE, label)
            pdf.set_font(FONT, "", 9.5)
            pdf.cell(0, _LINE, value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        self.text(_("Bill to"), bold=True)
        self.text("\n".join(self.party_lines(doc.buyer)), height=4.6)
        pdf.ln(4)

    def lines_table(self) -> None:
        doc = self.doc
        self.pdf.set_font(FONT, "", 9)
        headings = (_("Description"), _("Qty"), _("Unit price"), _("VAT"), _("Amount"))
        with self.pdf.table(
            col_widths=(80, 16, 28, 16, 30),
            text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
            line_height=_LINE,
            first_row_as_headings=True,
        ) as table:
            table.row(headings)
            for line in doc.lines:
                table.row(
                    (
                        line.description,
                        format_decimal(line.quantity.normalize(), locale=self.locale),
                        self.money(line.unit_price_minor),
                        f"{format_decimal(line.vat_rate.normalize(), locale=self.locale)} %",
                        self.money(line.amount_minor),
                    )
                )

    def totals(self) -> None:
        pdf, doc = self.pdf, self.doc
        pdf.ln(4)
        pdf.set_font(FONT, "", 9)
        with pdf.table(
            col_widths=(40, 40, 40),
            text_align=("RIGHT", "RIGHT", "RIGHT"),
            width=120,
            align="RIGHT",
            line_height=_LINE,
        ) as table:
            table.row((_("VAT rate"), _("Taxable"), _("VAT")))
            for bucket in doc.vat:
                rate = f"{format_decimal(bucket.rate.normalize(), locale=self.locale)} %"
                if bucket.nature:
                    rate = f"{rate} ({bucket.nature})"
                table.row((rate, self.money(bucket.taxable_minor), self.money(bucket.vat_minor)))
        pdf.ln(3)
        for label, amount, bold in (
            (_("Net total"), doc.net_minor, False),
            (_("VAT total"), doc.vat_minor, False),
            (_("Total due"), doc.total_minor, True),
        ):
            pdf.set_font(FONT, "B" if bold else "", 10 if bold else 9.5)
            pdf.cell(0, _LINE + 1, f"{label}: {self.money(amount)}", align="R")
            pdf.ln(_LINE + 1)

    def payment(self) -> None:
        doc = self.doc
        self.pdf.ln(5)
        self.text(_("Payment"), bold=True)
        if doc.payment_method == "stripe":
            self.text(_("Pay online with the link in the e-mail from Stripe, by the due date."))
        if doc.seller.iban:
            self.text(
                _(
                    "Bank transfer to %(beneficiary)s, IBAN %(iban)s, by %(due)s, quoting "
                    "“%(reference)s”.",
                    beneficiary=doc.seller.name,
                    iban=_grouped_iban(doc.seller.iban),
                    due=self.day(doc.due_date),
                    reference=self.title(),
                )
            )
        if doc.notes:
            self.pdf.ln(3)
            self.text(doc.notes, size=8.5)

    def render(self) -> bytes:
        self.header()
        self.lines_table()
        self.totals()
        self.payment()
        self.pdf.set_title(self.title())
        self.pdf.set_author(self.doc.seller.name)
        self.pdf.set_lang(self.doc.language)
        return bytes(self.pdf.output())


def _grouped_iban(iban: str) -> str:
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def render_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice or credit note as a PDF, in ``doc.language`` (needs an app context)."""
    with force_locale(doc.language):
        return _Writer(doc).render()


def pdf_filename(doc: InvoiceDocument) -> str:
    """``2026-0001.pdf``; credit notes ``credit-note-2026-0002.pdf``; drafts ``draft.pdf``."""
    stem = doc.number.replace("/", "-") if doc.number else "draft"
    return f"credit-note-{stem}.pdf" if doc.kind == "credit_note" else f"{stem}.pdf"


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken away after each ZIP member."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # noqa: ANN001 - bytes-like
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out, self._chunks = b"".join(self._chunks), []
        return out


def zip_chunks(documents: Iterable[InvoiceDocument]) -> Iterator[bytes]:
    """A ZIP of one PDF per document, yielded member by member (a streamed response body)."""
    sink = _Sink()
    seen: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for n, doc in enumerate(documents, start=1):
            name = pdf_filename(doc)
            if name in seen:
                name = f"{name[:-4]}-{n}.pdf"
            seen.add(name)
            archive.writestr(name, render_pdf(doc))
            yield sink.drain()
    yield sink.drain()  # the central directory, written on close


def write_zip(documents: Iterable[InvoiceDocument], target: io.IOBase) -> int:
    """Write the ZIP to ``target`` (a file, a ``SpooledTemporaryFile``); return its size."""
    size = 0
    for chunk in zip_chunks(documents):
        target.write(chunk)
        size += len(chunk)
    return size
