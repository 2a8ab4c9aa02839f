"""Finance CSV exports: the register (one row per invoice) and the lines (one row per line).

Generators of UTF-8 byte chunks, for a streamed response or a file: memory stays flat
whatever the number of invoices (``bench/export_invoices.py`` measures it). Excel-friendly:
optional byte-order mark, ``,`` or ``;`` as delimiter, CRLF rows, amounts as plain decimal
strings (``1213.90``: a dot whatever the delimiter, so no locale can misread them), and text
cells that a spreadsheet would run as a formula are defused with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _

from agency.errors import ValidationFailed
from billing.documents import InvoiceDocument
from billing.exports import decimal_string

DELIMITERS = (",", ";")
BOM = "\ufeff"
CHUNK_BYTES = 64 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

REGISTER_COLUMNS = (
    "number",
    "kind",
    "status",
    "issue_date",
    "due_date",
    "period",
    "client",
    "client_country",
    "client_vat_id",
    "client_fiscal_code",
    "currency",
    "net",
    "vat",
    "total",
    "related_number",
)
LINE_COLUMNS = (
    "number",
    "kind",
    "issue_date",
    "client",
    "currency",
    "line",
    "description",
    "line_kind",
    "quantity",
    "unit_price",
    "vat_rate",
    "amount",
    "vat_nature",
)


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    bom: bool = False


def parse_options(delimiter: object = ",", bom: object = False) -> CsvOptions:
    """From query or form values; ``ValidationFailed`` (422) naming the bad field."""
    errors: dict[str, list[str]] = {}
    delimiter = "," if delimiter in (None, "") else str(delimiter)
    if delimiter in ("comma", "semicolon"):
        delimiter = {"comma": ",", "semicolon": ";"}[delimiter]
    if delimiter not in DELIMITERS:
        errors["delimiter"] = [_("Choose a comma or a semicolon as the delimiter.")]
    if isinstance(bom, str):
        if bom.lower() not in ("", "0", "1", "true", "false", "yes", "no"):
            errors["bom"] = [_("Say true or false.")]
        bom = bom.lower() in ("1", "true", "yes")
    if errors:
        raise ValidationFailed(errors, location="query")
    return CsvOptions(delimiter=delimiter, bom=bool(bom))


def safe_text(value: str | None) -> str:
    """Text a spreadsheet shows as text, never runs (CSV formula injection)."""
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _plain_decimal(value: object) -> str:
    number = Decimal(str(value)).normalize()
    return f"{number:f}"


def rows_to_csv(
    header: Sequence[str], rows: Iterable[Sequence[str]], options: CsvOptions = CsvOptions()
) -> Iterator[bytes]:
    """UTF-8 chunks of about ``CHUNK_BYTES``: the header first, then the rows as they come."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options.delimiter, lineterminator="\r\n")
    if options.bom:
        buffer.write(BOM)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def register_rows(documents: Iterable[InvoiceDocument]) -> Iterator[list[str]]:
    for doc in documents:
        yield [
            doc.number,
            doc.kind,
            doc.status,
            doc.issue_date.isoformat(),
            doc.due_date.isoformat() if doc.due_date else "",
            doc.period or "",
            safe_text(doc.buyer.name),
            doc.buyer.country or "",
            safe_text(doc.buyer.vat_id),
            safe_text(doc.buyer.fiscal_code),
            doc.currency,
            decimal_string(doc.net_minor, doc.currency),
            decimal_string(doc.vat_minor, doc.currency),
            decimal_string(doc.total_minor, doc.currency),
            doc.related_number or "",
        ]


def line_rows(documents: Iterable[InvoiceDocument]) -> Iterator[list[str]]:
    for doc in documents:
        client = safe_text(doc.buyer.name)
        issued = doc.issue_date.isoformat()
        for n, line in enumerate(doc.lines, start=1):
            yield [
                doc.number,
                doc.kind,
                issued,
                client,
                doc.currency,
                str(n),
                safe_text(line.description),
                line.kind,
                _plain_decimal(line.quantity),
                decimal_string(line.unit_price_minor, doc.currency),
                _plain_decimal(line.vat_rate),
                decimal_string(line.amount_minor, doc.currency),
                line.vat_nature or "",
            ]


def register_csv(
    documents: Iterable[InvoiceDocument], options: CsvOptions = CsvOptions()
) -> Iterator[bytes]:
    """The invoice register: one row per invoice or credit note."""
    return rows_to_csv(REGISTER_COLUMNS, register_rows(documents), options)


def lines_csv(
    documents: Iterable[InvoiceDocument], options: CsvOptions = CsvOptions()
) -> Iterator[bytes]:
    """Every line of every document, with its document's number, date and client."""
    return rows_to_csv(LINE_COLUMNS, line_rows(documents), options)


def csv_filename(kind: str, date_from: str, date_to: str) -> str:
    """``invoices-2026-11-01-2026-11-30.csv`` / ``invoice-lines-….csv``."""
    stem = "invoice-lines" if kind == "lines" else "invoices"
    return f"{stem}-{date_from}-{date_to}.csv"
