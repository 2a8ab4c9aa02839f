"""Billable usage: one row per first publication of a target (DESIGN.md §8).

Publishing reports each target it publishes through :func:`record`; the row is unique per
target, so a retried or duplicated publish job never bills twice. ``billing`` never imports
the content package: the caller passes ids and the kind of work.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey
from tenants.context import current_agency_id
from tenants.models import ClientCompany
from tenants.scoping import TenantScoped


class UsageKind(enum.StrEnum):
    POST = "post"
    REPLY = "reply"


class UsageRecord(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """A published post or reply, billable in the client's period (``YYYY-MM``, client's zone)."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint("agency_id", "target_id", name="uq_usage_records_target"),
        ForeignKeyConstraint(
            ["agency_id", "client_id"],
            ["client_companies.agency_id", "client_companies.id"],
            name="fk_usage_records_client_id_client_companies",
            ondelete="CASCADE",
        ),
        Index("ix_usage_records_agency_id_client_id_period", "agency_id", "client_id", "period"),
    )

    client_id: Mapped[uuid.UUID]
    # No foreign key to posts or targets: the bill outlives the post it counts.
    target_id: Mapped[uuid.UUID]
    post_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[datetime]
    period: Mapped[str] = mapped_column(String(7))


def period_of(moment: datetime, timezone: str) -> str:
    """The billing period (``YYYY-MM``) a moment falls in, in the client's own time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def record(
    session: Session,
    *,
    client_id: uuid.UUID,
    target_id: uuid.UUID,
    kind: UsageKind | str,
    occurred_at: datetime,
    post_id: uuid.UUID | None = None,
    client_timezone: str | None = None,
) -> bool:
    """Record one billable publication in the current agency; ``False`` if already recorded.

    Safe to call twice for the same target, concurrently too: the insert does nothing on the
    unique ``(agency_id, target_id)`` conflict instead of failing the caller's transaction.
    A caller that has just read the client's time zone passes it (``client_timezone``) and
    saves reading the client again; the row's foreign key still requires the client.
    """
    kind = UsageKind(kind)
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    if client_timezone is None:
        client = session.get(ClientCompany, client_id)
        if client is None:
            raise LookupError(f"no client {client_id} in this agency")
        client_timezone = client.timezone
    values = {
        "id": uuid.uuid4(),
        "agency_id": current_agency_id(),
        "client_id": client_id,
        "target_id": target_id,
        "post_id": post_id,
        "kind": kind.value,
        "occurred_at": occurred_at,
        "period": period_of(occurred_at, client_timezone),
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(UsageRecord)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["agency_id", "target_id"])
        .returning(UsageRecord.id)
    )
    return session.execute(statement).first() is not None


def usage_for(session: Session, client_id: uuid.UUID, period: str) -> list[UsageRecord]:
    """Every usage row of one client in one period, oldest first."""
    return list(
        session.scalars(
            select(UsageRecord)
            .where(UsageRecord.client_id == client_id, UsageRecord.period == period)
            .order_by(UsageRecord.occurred_at, UsageRecord.id)
        )
    )
