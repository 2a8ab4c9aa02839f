"""Append-only audit log: who did what, when, to which object (DESIGN.md §6)."""

from __future__ import annotations

import uuid

from sqlalchemy import JSON, String, insert
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey, db, utcnow
from tenants.context import TenantError, current_agency_id, tenant_context
from tenants.permissions import Access
from tenants.scoping import TenantScoped


class AuditEvent(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "audit_events"

    actor_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # None: the system
    action: Mapped[str] = mapped_column(String(60))  # e.g. "member.role_changed"
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID | None]
    client_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    via: Mapped[str] = mapped_column(String(20), default="web")  # web | api | link | job | cli
    data: Mapped[dict] = mapped_column(JSON, default=dict)


def record_by(
    access: Access,
    action: str,
    *,
    subject_type: str,
    subject_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    via: str = "web",
    **data: object,
) -> AuditEvent:
    """Record what a member did, stamped with their agency even outside its tenant context."""
    fields = dict(subject_type=subject_type, subject_id=subject_id, client_id=client_id, via=via)
    if current_agency_id() == access.agency.id:
        return record(action, actor_id=access.user.id, **fields, **data)
    with tenant_context(access.agency.id):
        event = record(action, actor_id=access.user.id, **fields, **data)
        db.session.flush()  # stamped and checked while the agency is in context
    return event


def record(
    action: str,
    *,
    actor_id: uuid.UUID | None,
    subject_type: str,
    subject_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    via: str = "web",
    **data: object,
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit makes it durable with the change."""
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        client_id=client_id,
        via=via,
        data=_data(data),
    )
    db.session.add(event)
    return event


#: The columns :func:`record` takes besides ``action`` and ``data``, with their defaults.
_FIELDS = {"subject_id": None, "client_id": None, "via": "web"}


def values(action: str, *, actor_id: uuid.UUID | None, subject_type: str, **fields: object) -> dict:
    """One event's row, from :func:`record`'s arguments, for :func:`insert_rows`: hot paths
    (the publish job) write their events in one statement and load no ORM objects."""
    agency_id = current_agency_id()
    if agency_id is None:
        raise TenantError(f"cannot record {action} with no agency in context")
    columns = {name: fields.pop(name, default) for name, default in _FIELDS.items()}
    return {
        "id": uuid.uuid4(), "agency_id": agency_id, "created_at": utcnow(), "action": action,
        "actor_id": actor_id, "subject_type": subject_type, **columns, "data": _data(fields),
    }  # fmt: skip


def insert_rows(rows: list[dict]) -> None:
    """Insert :func:`values` rows in the caller's transaction, in one statement."""
    if rows:
        db.session.execute(insert(AuditEvent), rows)


def _data(data: dict) -> dict:
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in data.items()}
