"""What an invoice or credit note says, as plain data: the one input of every document format.

The invoice service builds an :class:`InvoiceDocument` from a finalized (or draft) invoice; the
PDF, FatturaPA and CSV writers render it without touching the database. Money is integer minor
units of ``currency``; rates are ``Decimal`` percentages (``Decimal("22")`` is 22 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Party:
    """Seller (the agency) or buyer (the client company), with structured address (DESIGN §8)."""

    name: str  # legal name where known
    country: str  # ISO 3166-1 alpha-2
    vat_id: str | None = None  # as stored, e.g. "IT01234567890"
    fiscal_code: str | None = None
    address: str | None = None  # street and number
    postal_code: str | None = None
    city: str | None = None
    province: str | None = None  # two letters for Italy
    email: str | None = None
    pec: str | None = None  # buyer: certified e-mail for SDI delivery
    sdi_code: str | None = None  # buyer: Codice Destinatario (7 chars)
    tax_regime: str | None = None  # seller: FatturaPA RegimeFiscale, RF01..RF19
    iban: str | None = None  # seller: for bank transfer (MP05)


@dataclass(frozen=True)
class DocumentLine:
    description: str
    quantity: Decimal
    unit_price_minor: int  # net, per unit
    amount_minor: int  # net line total, rounded half-up to minor units
    vat_rate: Decimal  # percent
    kind: str = "manual"  # retainer | posts | extra_posts | replies | hours | manual
    vat_nature: str | None = None  # FatturaPA Natura (N1..N7) when vat_rate is 0


@dataclass(frozen=True)
class VatBucket:
    rate: Decimal
    taxable_minor: int
    vat_minor: int
    nature: str | None = None


@dataclass(frozen=True)
class InvoiceDocument:
    kind: str  # "invoice" | "credit_note"
    number: str  # "2026/0001"; "" on a draft
    issue_date: date
    currency: str  # ISO 4217
    language: str  # "en" | "it": the client's language
    seller: Party
    buyer: Party
    lines: tuple[DocumentLine, ...]
    vat: tuple[VatBucket, ...]
    net_minor: int
    vat_minor: int
    total_minor: int
    period: str | None = None  # "YYYY-MM" the invoice bills
    due_date: date | None = None
    payment_method: str = "bank_transfer"  # "bank_transfer" | "stripe"
    related_number: str | None = None  # credit note: the invoice it corrects
    related_date: date | None = None
    notes: str | None = None
    status: str = "draft"  # draft | open | paid | void | uncollectible
