"""A one-page, text-only PDF of an invoice document: the stand-in until ``billing.pdf``
(the localized renderer of the exports work) is installed. Latin-1 text, Helvetica."""

from __future__ import annotations

from billing.documents import InvoiceDocument
from billing.money import format_money

LINES_PER_PAGE = 60


def _escape(text: str) -> str:
    safe = text.encode("latin-1", "replace").decode("latin-1")
    return safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_lines(doc: InvoiceDocument) -> list[str]:
    title = "Credit note" if doc.kind == "credit_note" else "Invoice"
    out = [
        f"{title} {doc.number or '(draft)'}",
        f"Issued {doc.issue_date.isoformat()}" + (f" - due {doc.due_date}" if doc.due_date else ""),
        f"From: {doc.seller.name}  {doc.seller.vat_id or ''}",
        f"To: {doc.buyer.name}  {doc.buyer.vat_id or ''}",
        f"Period: {doc.period or ''}",
        "",
    ]
    for line in doc.lines:
        out.append(
            f"{line.description[:60]}  {line.quantity} x "
            f"{format_money(line.unit_price_minor, doc.currency)}  VAT {line.vat_rate}%  "
            f"{format_money(line.amount_minor, doc.currency)}"
        )
    out += [
        "",
        f"Net {format_money(doc.net_minor, doc.currency)}",
        f"VAT {format_money(doc.vat_minor, doc.currency)}",
        f"Total {format_money(doc.total_minor, doc.currency)}",
    ]
    if doc.related_number:
        out.append(f"Corrects invoice {doc.related_number}")
    return out[:LINES_PER_PAGE]


def render_invoice(doc: InvoiceDocument) -> bytes:
    rows = "".join(
        f"1 0 0 1 50 {790 - 13 * i} Tm ({_escape(text)}) Tj\n"
        for i, text in enumerate(text_lines(doc))
    )
    stream = f"BT /F1 10 Tf\n{rows}ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body
