"""Workflow settings per client (DESIGN.md §6). Post states arrive with the content issue."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey, utcnow
from tenants.models import client_fk
from tenants.scoping import TenantScoped


class ClientApproval(enum.StrEnum):
    NONE = "none"
    ANY = "any"
    ALL = "all"


class ReplyPolicy(enum.StrEnum):
    SAME = "same"
    INTERNAL_ONLY = "internal_only"
    NONE = "none"


class LateRule(enum.StrEnum):
    HOLD = "hold"
    PUBLISH_WHEN_APPROVED = "publish_when_approved"
    NOTIFY = "notify"


class ApprovalPolicy(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "approval_policies"
    __table_args__ = (
        UniqueConstraint("agency_id", "client_id", name="uq_approval_policies_client_id"),
        client_fk("approval_policies"),
    )

    client_id: Mapped[uuid.UUID]
    internal_review: Mapped[bool] = mapped_column(default=True)
    client_approval: Mapped[str] = mapped_column(String(10), default=ClientApproval.ANY.value)
    approver_ids: Mapped[list] = mapped_column(JSON, default=list)  # user ids (str)
    reply_policy: Mapped[str] = mapped_column(String(20), default=ReplyPolicy.SAME.value)
    lead_time_hours: Mapped[int] = mapped_column(default=24)
    reminder_hours: Mapped[list] = mapped_column(JSON, default=list)  # hours before deadline
    late_rule: Mapped[str] = mapped_column(String(30), default=LateRule.HOLD.value)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
