"""Identity and tenancy models.

Global tables (looked up before an agency is known): ``agencies``, ``users``,
``memberships``, ``api_tokens``. Everything else carries ``agency_id`` through
``TenantScoped`` and is scoped automatically.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agency.db import Base, Timestamped, UUIDPrimaryKey, utcnow
from tenants.scoping import TenantScoped


class Role(enum.StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    STAFF = "staff"
    FINANCE = "finance"
    CLIENT_MANAGER = "client_manager"
    CLIENT_VIEWER = "client_viewer"

    @property
    def is_client_role(self) -> bool:
        return self in (Role.CLIENT_MANAGER, Role.CLIENT_VIEWER)


AGENCY_ROLES = (Role.OWNER, Role.MANAGER, Role.STAFF, Role.FINANCE)
CLIENT_ROLES = (Role.CLIENT_MANAGER, Role.CLIENT_VIEWER)


def client_fk(table: str) -> ForeignKeyConstraint:
    """``(agency_id, client_id)`` → ``client_companies (agency_id, id)`` (DESIGN.md §3).

    A row can never point at another agency's client, whatever the code above does.
    """
    return ForeignKeyConstraint(
        ["agency_id", "client_id"],
        ["client_companies.agency_id", "client_companies.id"],
        name=f"fk_{table}_client_id_client_companies",
        ondelete="CASCADE",
    )


def partial_unique_index(name: str, *columns: str, where: str) -> Index:
    """A unique index over the rows matching ``where`` (PostgreSQL and SQLite alike)."""
    return Index(
        name, *columns, unique=True, postgresql_where=text(where), sqlite_where=text(where)
    )


class ClientStatus(enum.StrEnum):
    ONBOARDING = "onboarding"
    ACTIVE = "active"
    PAUSED = "paused"
    OFFBOARDED = "offboarded"


class Agency(UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "agencies"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    default_locale: Mapped[str] = mapped_column(String(8), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # Legal and fiscal details printed on invoices.
    legal_name: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    vat_number: Mapped[str | None] = mapped_column(String(40))
    fiscal_code: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))  # street and number
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(40))  # two letters for Italy
    tax_regime: Mapped[str | None] = mapped_column(String(4))  # FatturaPA RegimeFiscale, RF01..
    iban: Mapped[str | None] = mapped_column(String(34))  # bank transfers (FatturaPA MP05)
    # Fernet token of {"api_key", "webhook_secret"} (agency.crypto); never rendered back.
    stripe_secrets: Mapped[str | None] = mapped_column(Text)
    logo_filename: Mapped[str | None] = mapped_column(String(200))  # under MEDIA_ROOT

    def __repr__(self) -> str:
        return f"<Agency {self.slug}>"


class User(UserMixin, UUIDPrimaryKey, Timestamped, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None until the owner of the address clicks the verification link (or accepts an
    # invitation, or resets the password: each proves they read mail sent there).
    email_verified_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_id(self) -> str:
        # "<user>:<server-side session>:<password fingerprint>": logout revokes the session
        # row, a password change alters the fingerprint (tenants.web.load_user checks both).
        import hashlib

        digest = hashlib.sha256(f"{self.id}:{self.password_hash}".encode()).hexdigest()[:20]
        return f"{self.id}:{getattr(self, 'session_id', '')}:{digest}"

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class Membership(UUIDPrimaryKey, Timestamped, Base):
    """A user's role in one agency; client roles also name the client company."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "agency_id", "client_id", name="uq_membership"),
        # The constraint above treats NULLs as distinct: one agency-team membership per user.
        partial_unique_index(
            "uq_memberships_agency_team", "user_id", "agency_id", where="client_id IS NULL"
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    # Plain column, no FK: client_companies is RLS-protected and memberships are read
    # before the tenant is known.
    client_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    active: Mapped[bool] = mapped_column(default=True)

    user: Mapped[User] = relationship(back_populates="memberships")
    agency: Mapped[Agency] = relationship()


class ClientCompany(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "client_companies"
    __table_args__ = (
        # The target of every tenant child's composite foreign key (an index, not a
        # constraint: SQLite adds it without rebuilding the table its children reference).
        Index("uq_client_companies_agency_id_id", "agency_id", "id", unique=True),
    )

    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=ClientStatus.ONBOARDING.value)
    legal_name: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    vat_number: Mapped[str | None] = mapped_column(String(40))
    fiscal_code: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str | None] = mapped_column(String(500))  # street and number
    postal_code: Mapped[str | None] = mapped_column(String(20))
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(40))  # two letters for Italy
    billing_email: Mapped[str | None] = mapped_column(String(320))
    sdi_code: Mapped[str | None] = mapped_column(String(7))
    pec: Mapped[str | None] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(8), default="en")

    def __repr__(self) -> str:
        return f"<ClientCompany {self.name}>"


# Client names are unique per agency whatever their case ("Acme" and "ACME" are one client).
Index(
    "uq_client_companies_name_ci",
    ClientCompany.agency_id,
    func.lower(ClientCompany.name),
    unique=True,
)


class StaffAssignment(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """Which clients a staff member works on (staff see only these)."""

    __tablename__ = "staff_assignments"
    __table_args__ = (
        UniqueConstraint("agency_id", "membership_id", "client_id", name="uq_staff_assignment"),
        client_fk("staff_assignments"),
    )

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(index=True)


class Invitation(UUIDPrimaryKey, Timestamped, Base):
    """An e-mailed, single-use, expiring, revocable invitation to join an agency or a client."""

    __tablename__ = "invitations"
    # At most one pending invitation per address and scope (agency team, or one client).
    __table_args__ = (
        partial_unique_index(
            "uq_invitations_pending_agency_team",
            "agency_id",
            "email",
            where="accepted_at IS NULL AND revoked_at IS NULL AND client_id IS NULL",
        ),
        partial_unique_index(
            "uq_invitations_pending_client",
            "agency_id",
            "email",
            "client_id",
            where="accepted_at IS NULL AND revoked_at IS NULL AND client_id IS NOT NULL",
        ),
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # client roles only
    # Staff invitations may name the clients the new member will work on.
    assigned_client_ids: Mapped[list] = mapped_column(JSON, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    send_count: Mapped[int] = mapped_column(default=0)

    agency: Mapped[Agency] = relationship()


class ApiToken(UUIDPrimaryKey, Timestamped, Base):
    """A personal API token bound to one user and one agency; only its hash is stored."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100), default="API token")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # None: until revoked
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    agency: Mapped[Agency] = relationship()


class UserSession(UUIDPrimaryKey, Timestamped, Base):
    """A signed-in browser: the cookie names this row, so logout can end it on the server."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    user_agent: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


class PasswordReset(UUIDPrimaryKey, Timestamped, Base):
    """A single-use, expiring password-reset link; only the token's sha256 is stored."""

    __tablename__ = "password_resets"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
