"""A client's social account. Secret settings are stored encrypted, never rendered back."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from agency.db import Base, Timestamped, UUIDPrimaryKey
from tenants.models import client_fk
from tenants.scoping import TenantScoped


class Network(enum.StrEnum):
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    X = "x"
    FACEBOOK_PAGE = "facebook_page"
    INSTAGRAM = "instagram"
    LINKEDIN = "linkedin"
    WEBHOOK = "webhook"
    MANUAL = "manual"


NAME_INDEX = "uq_channels_client_name"


class ChannelStatus(enum.StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"
    DISABLED = "disabled"


class Channel(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    __tablename__ = "channels"
    __table_args__ = (client_fk("channels"),)

    client_id: Mapped[uuid.UUID] = mapped_column(index=True)
    network: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    handle: Mapped[str | None] = mapped_column(String(200))
    # Non-secret settings only (base URLs, ids); secrets live in credentials_encrypted.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=ChannelStatus.CONNECTED.value)
    # What the network said when the credentials were last checked ("Connected as …").
    display_name: Mapped[str | None] = mapped_column(String(200))
    avatar_url: Mapped[str | None] = mapped_column(String(2000))
    # "Connected" means verified: set by a successful check, cleared when it fails.
    verified_at: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]  # the last check, successful or not
    check_error: Mapped[str | None] = mapped_column(Text)  # the network's words, last failure


# A client's channel names are unique ignoring case (lower() works on PostgreSQL and SQLite).
Index(NAME_INDEX, Channel.agency_id, Channel.client_id, func.lower(Channel.name), unique=True)


class MastodonApp(UUIDPrimaryKey, Timestamped, TenantScoped, Base):
    """The OAuth app Regia registered on one Mastodon instance (``POST /api/v1/apps``), cached."""

    __tablename__ = "mastodon_apps"
    __table_args__ = (
        UniqueConstraint(
            "agency_id", "instance_url", "redirect_uri", name="uq_mastodon_apps_instance"
        ),
    )

    instance_url: Mapped[str] = mapped_column(String(500))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(200))
