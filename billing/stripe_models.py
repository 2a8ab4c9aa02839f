"""What Regia knows of Stripe: one sync link per invoice, and every webhook event processed.

Kept apart from the invoice tables (owned by ``billing.invoices``) so Stripe collection can
change without touching them: the link names the invoice by id only.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey
from tenants.models import client_fk
from tenants.scoping import TenantScoped


class SyncStatus(enum.StrEnum):
    PENDING = "pending"  # finalized locally, not (yet) on Stripe: the job retries
    SYNCED = "synced"  # finalized and sent on Stripe
    FAILED = "failed"  # Stripe refused it for good (bad request, auth): needs a person


class StripeInvoiceLink(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "stripe_invoice_links"
    __table_args__ = (
        UniqueConstraint("agency_id", "invoice_id", name="uq_stripe_invoice_links_invoice"),
        client_fk("stripe_invoice_links"),
        Index("ix_stripe_invoice_links_agency_id_invoice", "agency_id", "invoice"),
    )

    # No foreign key: the invoice table belongs to billing.invoices (wired at merge).
    invoice_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    customer: Mapped[str | None] = mapped_column(String(255))  # cus_…
    invoice: Mapped[str | None] = mapped_column(String(255))  # in_…
    sync_status: Mapped[str] = mapped_column(String(20), default=SyncStatus.PENDING.value)
    # What Stripe's webhooks last said: open | paid | void | uncollectible | payment_failed.
    payment_status: Mapped[str | None] = mapped_column(String(20))
    # ``created`` of the event that set payment_status: older events never overwrite it.
    last_event_created: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    synced_at: Mapped[datetime | None]


class StripeEvent(UUIDPrimaryKey, Timestamped, Base):
    """A webhook event already processed (global table: read before the tenant context is set,
    always filtered by ``agency_id``)."""

    __tablename__ = "stripe_events"
    __table_args__ = (UniqueConstraint("agency_id", "event_id", name="uq_stripe_events_event"),)

    event_id: Mapped[str] = mapped_column(String(255))
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(100))
    stripe_created: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(40))
