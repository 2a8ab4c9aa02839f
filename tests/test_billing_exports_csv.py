"""CSV register and lines: streamed, Excel-friendly (BOM, delimiter), decimal-string amounts,
formula cells defused, options validated."""

from __future__ import annotations

import csv
import io
from itertools import count

import pytest

from agency.errors import ValidationFailed
from billing import csv_export
from billing.csv_export import CsvOptions, lines_csv, parse_options, register_csv
from tests.billing_documents import buyer, credit_note_for, document, line


def read(chunks, delimiter: str = ",") -> list[list[str]]:  # noqa: ANN001
    data = b"".join(chunks).decode("utf-8")
    return list(csv.reader(io.StringIO(data, newline=""), delimiter=delimiter))


def test_register_has_one_row_per_document_with_decimal_string_amounts():
    invoice = document()
    rows = read(register_csv([invoice, credit_note_for(invoice)]))

    header, first, second = rows
    assert header == list(csv_export.REGISTER_COLUMNS)
    record = dict(zip(header, first, strict=True))
    assert (record["number"], record["net"], record["vat"], record["total"]) == (
        "2026/0001",
        "995.00",
        "218.90",
        "1213.90",
    )
    assert record["client"] == "Pasticceria Ghiotta S.n.c."
    credit = dict(zip(header, second, strict=True))
    assert (credit["kind"], credit["total"], credit["related_number"]) == (
        "credit_note",
        "-1213.90",
        "2026/0001",
    )


def test_lines_export_repeats_the_document_on_every_line():
    rows = read(lines_csv([document(), document(number="2026/0002")]))
    header, *lines = rows
    assert len(lines) == 8
    hours = dict(zip(header, lines[3], strict=True))
    assert (hours["number"], hours["line"], hours["quantity"], hours["unit_price"]) == (
        "2026/0001",
        "4",
        "1.5",
        "60.00",
    )
    assert (hours["amount"], hours["vat_rate"], hours["line_kind"]) == ("90.00", "22", "hours")


def test_excel_options_semicolon_and_bom():
    data = b"".join(register_csv([document()], CsvOptions(delimiter=";", bom=True)))
    assert data.startswith(b"\xef\xbb\xbfnumber;kind;")
    assert b"\r\n" in data
    rows = read([data[3:]], delimiter=";")
    assert rows[1][0] == "2026/0001"


def test_currency_digits_follow_the_currency():
    yen = document([line("Retainer", 1, 50000, "10")], currency="JPY")
    record = dict(zip(*read(register_csv([yen])), strict=True))
    assert (record["net"], record["vat"], record["total"]) == ("50000", "5000", "55000")


def test_cells_a_spreadsheet_would_run_are_defused():
    hostile = document(
        [line('=HYPERLINK("http://evil")', 1, 100), line("-2+3", 1, 100)],
        buyer=buyer(name="@SUM(A1)"),
    )
    header, first, second = read(lines_csv([hostile]))
    assert first[header.index("description")] == '\'=HYPERLINK("http://evil")'
    assert second[header.index("description")] == "'-2+3"
    assert first[header.index("client")] == "'@SUM(A1)"
    assert first[header.index("amount")] == "1.00"  # numbers stay numbers


def test_export_is_a_lazy_stream_of_chunks():
    pulled = count()

    def documents():
        for n in range(1, 2001):
            next(pulled)
            yield document(number=f"2026/{n:04d}")

    chunks = lines_csv(documents())
    first = next(chunks)
    # One chunk (~64 KiB) is out long before the 2,000 invoices have been read.
    assert len(first) >= csv_export.CHUNK_BYTES
    assert next(pulled) < 1000
    assert sum(len(chunk) for chunk in chunks) > 0


@pytest.mark.parametrize(
    ("args", "field"),
    [({"delimiter": "|"}, "delimiter"), ({"delimiter": "\t"}, "delimiter"), ({"bom": "x"}, "bom")],
)
def test_bad_options_are_422_naming_the_field(args, field):  # noqa: ANN001
    with pytest.raises(ValidationFailed) as failed:
        parse_options(**args)
    assert field in failed.value.errors and failed.value.http_status == 422


def test_options_from_query_strings():
    assert parse_options("semicolon", "true") == CsvOptions(";", True)
    assert parse_options(None, None) == CsvOptions(",", False)
