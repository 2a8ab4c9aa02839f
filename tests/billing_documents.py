"""Factories of ``InvoiceDocument`` (the plain-data input of every export format) and the
official FatturaPA XSD, for the export tests."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from billing.documents import DocumentLine, InvoiceDocument, Party, VatBucket

IBAN = "IT60X0542811101000000123456"


def seller(**changes) -> Party:
    base = Party(
        name="Aurora Social S.r.l.",
        country="IT",
        vat_id="IT00743110157",
        fiscal_code="00743110157",
        address="Via Roma 1",
        postal_code="20121",
        city="Milano",
        province="MI",
        email="billing@aurora.example",
        tax_regime="RF01",
        iban=IBAN,
    )
    return replace(base, **changes)


def buyer(**changes) -> Party:
    base = Party(
        name="Pasticceria Ghiotta S.n.c.",
        country="IT",
        vat_id="IT01234567897",
        address="Corso Buenos Aires 10",
        postal_code="20124",
        city="Milano",
        province="MI",
        email="amministrazione@ghiotta.example",
        sdi_code="ABC1234",
    )
    return replace(base, **changes)


def line(
    description: str,
    quantity: str | int,
    unit_minor: int,
    rate: str = "22",
    *,
    kind: str = "manual",
    nature: str | None = None,
) -> DocumentLine:
    amount = (Decimal(quantity) * unit_minor).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return DocumentLine(
        description=description,
        quantity=Decimal(quantity),
        unit_price_minor=unit_minor,
        amount_minor=int(amount),
        vat_rate=Decimal(rate),
        kind=kind,
        vat_nature=nature,
    )


def document(lines: list[DocumentLine] | None = None, **changes) -> InvoiceDocument:
    """A finalized invoice with VAT computed per rate bucket (half-up to minor units)."""
    lines = lines or [
        line("Monthly retainer — November 2026", 1, 80000, kind="retainer"),
        line("Extra posts", 2, 4500, kind="extra_posts"),
        line("Replies", 1, 1500, kind="replies"),
        line("Hours of work", "1.5", 6000, kind="hours"),
    ]
    buckets: dict[Decimal, int] = {}
    for item in lines:
        buckets[item.vat_rate] = buckets.get(item.vat_rate, 0) + item.amount_minor
    vat = tuple(
        VatBucket(
            rate=rate,
            taxable_minor=taxable,
            vat_minor=int((taxable * rate / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)),
        )
        for rate, taxable in sorted(buckets.items())
    )
    net = sum(item.amount_minor for item in lines)
    tax = sum(bucket.vat_minor for bucket in vat)
    base = InvoiceDocument(
        kind="invoice",
        number="2026/0001",
        issue_date=date(2026, 12, 1),
        currency="EUR",
        language="it",
        seller=seller(),
        buyer=buyer(),
        lines=tuple(lines),
        vat=vat,
        net_minor=net,
        vat_minor=tax,
        total_minor=net + tax,
        period="2026-11",
        due_date=date(2026, 12, 31),
        status="open",
    )
    return replace(base, **changes)


def credit_note_for(invoice: InvoiceDocument, number: str = "2026/0002") -> InvoiceDocument:
    """The credit note netting ``invoice`` to zero (amounts negative, as a ledger keeps them)."""

    def negated(item: DocumentLine) -> DocumentLine:
        return replace(
            item, unit_price_minor=-item.unit_price_minor, amount_minor=-item.amount_minor
        )

    return replace(
        invoice,
        kind="credit_note",
        number=number,
        lines=tuple(negated(item) for item in invoice.lines),
        vat=tuple(
            replace(b, taxable_minor=-b.taxable_minor, vat_minor=-b.vat_minor) for b in invoice.vat
        ),
        net_minor=-invoice.net_minor,
        vat_minor=-invoice.vat_minor,
        total_minor=-invoice.total_minor,
        related_number=invoice.number,
        related_date=invoice.issue_date,
    )


def fatturapa_folder() -> Path:
    """``../shared/data/fatturapa`` from the project's root (or any folder above it)."""
    if os.environ.get("REGIA_FATTURAPA_XSD_DIR"):
        return Path(os.environ["REGIA_FATTURAPA_XSD_DIR"])
    here = Path(__file__).resolve().parent.parent
    for folder in (here, *here.parents):
        candidate = folder.parent / "shared" / "data" / "fatturapa"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("../shared/data/fatturapa (the official FatturaPA XSD) not found")


@cache
def fatturapa_schema():  # noqa: ANN201 - xmlschema.XMLSchema
    import xmlschema

    folder = fatturapa_folder()
    return xmlschema.XMLSchema(
        str(folder / "Schema_del_file_xml_FatturaPA_v1.2.2.xsd"),
        locations={"http://www.w3.org/2000/09/xmldsig#": str(folder / "xmldsig-core-schema.xsd")},
    )
