"""Rate cards, time entries, invoices, their lines and the numbering counters (DESIGN.md §8).

Money columns are ``BigInteger`` minor units of the row's currency; rates and quantities
are ``Numeric`` (``Decimal``). Every foreign key between tenant tables includes ``agency_id``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey, utcnow
from tenants.models import client_fk
from tenants.scoping import TenantScoped

Money = BigInteger  # minor units


class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class LineKind(enum.StrEnum):
    RETAINER = "retainer"
    POSTS = "posts"  # included in the retainer, at zero
    EXTRA_POSTS = "extra_posts"
    REPLIES = "replies"
    HOURS = "hours"
    MANUAL = "manual"


class RateCard(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """One version of a client's prices, in force from ``effective_from`` (client's calendar)."""

    __tablename__ = "rate_cards"
    __table_args__ = (
        client_fk("rate_cards"),
        UniqueConstraint("agency_id", "client_id", "effective_from", name="uq_rate_cards_version"),
    )

    client_id: Mapped[uuid.UUID]
    effective_from: Mapped[date]
    currency: Mapped[str] = mapped_column(String(3))
    monthly_retainer: Mapped[int] = mapped_column(Money)
    posts_included: Mapped[int] = mapped_column(Integer)
    price_per_post: Mapped[int] = mapped_column(Money)
    price_per_reply: Mapped[int] = mapped_column(Money)
    hourly_rate: Mapped[int] = mapped_column(Money)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[uuid.UUID | None]


class TimeEntry(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """Minutes of work for a client (optionally one post), billed in ``work_date``'s month."""

    __tablename__ = "time_entries"
    __table_args__ = (
        client_fk("time_entries"),
        Index("ix_time_entries_agency_id_client_id_period", "agency_id", "client_id", "period"),
    )

    client_id: Mapped[uuid.UUID]
    # No foreign key to posts: the bill outlives the post it counts (as usage rows).
    post_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    minutes: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(500))
    work_date: Mapped[date]
    period: Mapped[str] = mapped_column(String(7))


class Invoice(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """A draft, finalized invoice or credit note of one client for one period."""

    __tablename__ = "invoices"
    __table_args__ = (
        client_fk("invoices"),
        UniqueConstraint("agency_id", "id", name="uq_invoices_agency_id_id"),
        UniqueConstraint("agency_id", "number", name="uq_invoices_number"),
        ForeignKeyConstraint(
            ["agency_id", "credits_invoice_id"],
            ["invoices.agency_id", "invoices.id"],
            name="fk_invoices_credits_invoice_id_invoices",
        ),
        Index("ix_invoices_agency_id_period_status", "agency_id", "period", "status"),
        Index("ix_invoices_agency_id_client_id", "agency_id", "client_id"),
    )

    client_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20), default=InvoiceKind.INVOICE.value)
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.DRAFT.value)
    period: Mapped[str] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(String(3))
    number: Mapped[str | None] = mapped_column(String(20))
    year: Mapped[int | None]
    sequence: Mapped[int | None]
    subtotal: Mapped[int] = mapped_column(Money, default=0)
    tax: Mapped[int] = mapped_column(Money, default=0)
    total: Mapped[int] = mapped_column(Money, default=0)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    issued_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    credits_invoice_id: Mapped[uuid.UUID | None]  # a credit note: the invoice it nets
    payment_method: Mapped[str] = mapped_column(String(20), default="bank_transfer")
    # Set to "pending" when handed to the Stripe job; the Stripe sync owns it from there.
    stripe_status: Mapped[str | None] = mapped_column(String(20))
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InvoiceLine(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agency_id", "invoice_id"],
            ["invoices.agency_id", "invoices.id"],
            name="fk_invoice_lines_invoice_id_invoices",
            ondelete="CASCADE",
        ),
        Index("ix_invoice_lines_agency_id_invoice_id", "agency_id", "invoice_id"),
    )

    invoice_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    unit_amount: Mapped[int] = mapped_column(Money)
    amount: Mapped[int] = mapped_column(Money)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))


class InvoiceCounter(UUIDPrimaryKey, TenantScoped, Base):
    """The last number given in one series and year; locked FOR UPDATE while numbering."""

    __tablename__ = "invoice_counters"
    __table_args__ = (
        UniqueConstraint("agency_id", "series", "year", name="uq_invoice_counters_series_year"),
    )

    series: Mapped[str] = mapped_column(String(10))  # "" invoices, "NC" credit notes
    year: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer, default=0)
