"""Connecting a channel means verifying it: the network's "who am I" call on every save.

Views and the API save channels through here. A refused check raises ValidationFailed with
the network's own message and nothing is written; a network whose connector is not
available yet is saved *unverified* (never shown as "Connected").
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _

from agency import outbound
from agency.channels import names, service
from agency.channels.models import Channel, ChannelStatus, Network
from agency.clients.service import require_manage
from agency.db import db, utcnow
from agency.errors import ValidationFailed
from agency.publishing import connectors
from agency.publishing.connectors.base import (
    CONNECTORS,
    AccountInfo,
    Connector,
    ErrorClass,
    PublishError,
)
from tenants.models import ClientCompany
from tenants.permissions import Access

MAX_ERROR = 500


def load_connectors() -> dict[str, type[Connector]]:
    """Import every connector module once, so each registers itself."""
    for module in pkgutil.iter_modules(connectors.__path__):
        if module.name != "base":
            importlib.import_module(f"{connectors.__name__}.{module.name}")
    return CONNECTORS


def has_connector(network: str) -> bool:
    return network in load_connectors()


@dataclass(frozen=True)
class CheckFailed(Exception):
    """The network refused the credentials (or could not be reached): its words, classified."""

    error_class: ErrorClass
    message: str

    @property
    def credentials_refused(self) -> bool:
        return self.error_class in (ErrorClass.AUTH_EXPIRED, ErrorClass.PERMANENT)


def check(network: str, settings: Mapping[str, str]) -> AccountInfo | None:
    """Ask the network who these credentials belong to; None if it has no connector yet."""
    cls = load_connectors().get(network)
    if cls is None:
        return None
    with outbound.client() as http:
        connector = cls(dict(settings), http)
        try:
            return connector.verify()
        except PublishError as exc:
            raise CheckFailed(exc.error_class, _short(exc.message)) from exc
        except outbound.OutboundError as exc:
            raise CheckFailed(ErrorClass.PERMANENT, _short(str(exc))) from exc
        except Exception as exc:  # a transport error the connector did not classify
            error = connector_error(connector, exc)
            raise CheckFailed(error.error_class, _short(error.message)) from exc


def connector_error(connector: Connector, exc: Exception) -> PublishError:
    try:
        return connector.classify(exc)
    except Exception:  # noqa: BLE001 - a connector without classify() for this case
        return PublishError(ErrorClass.RETRYABLE, str(exc) or type(exc).__name__)


def _short(message: str) -> str:
    text = " ".join(str(message).split())
    return text[:MAX_ERROR] or _("no reason given")


def _refusal(network: str, failure: CheckFailed) -> ValidationFailed:
    specs = service.specs_for(network)
    field = next((s.name for s in specs if s.secret), specs[0].name if specs else "network")
    if failure.credentials_refused:
        message = _("The network refused these credentials: %(reason)s", reason=failure.message)
    else:
        message = _(
            "The network could not be reached to check these credentials: %(reason)s. "
            "Nothing was saved; try again.",
            reason=failure.message,
        )
    return ValidationFailed({"settings": {field: [message]}})


def verify_or_refuse(network: str, settings: Mapping[str, str]) -> AccountInfo | None:
    try:
        return check(network, settings)
    except CheckFailed as failure:
        raise _refusal(network, failure) from None


def stamp(channel: Channel, account: AccountInfo | None) -> None:
    """Record a successful check (or, with ``None``, that nothing could be checked)."""
    now = utcnow()
    if account is None:
        channel.verified_at = None
        return
    channel.handle = account.handle or channel.handle
    channel.display_name = (account.display_name or "")[:200] or None
    avatar = account.avatar_url or ""
    channel.avatar_url = avatar[:2000] if avatar.startswith(("https://", "http://")) else None
    channel.verified_at = channel.checked_at = now
    channel.check_error = None
    if channel.status == ChannelStatus.NEEDS_RECONNECT.value:
        channel.status = ChannelStatus.CONNECTED.value


def add_channel(
    access: Access,
    client: ClientCompany,
    data: Mapping[str, object],
    *,
    via: str = "web",
    account: AccountInfo | None = None,
) -> Channel:
    """Validate, verify with the network, then save (``service.add_channel``); commits.

    ``account``: already verified by the caller (the OAuth flow just asked the network).
    """
    require_manage(access, client.id)
    network = service.parse_network(data.get("network"))
    _name, _handle, public, secrets = service._validate(network, data)
    if account is None:
        names.check_name_free(client.id, _name)
        account = verify_or_refuse(network.value, {**public, **secrets})
    given = dict(data)
    if account is not None and account.handle:
        given["handle"] = account.handle
    channel = service.add_channel(access, client, given, via=via)
    stamp(channel, account)
    db.session.commit()
    return channel


def update_channel(
    access: Access,
    channel: Channel,
    data: Mapping[str, object],
    status: str | None = None,
    *,
    via: str = "web",
) -> Channel:
    """Change details (and, from the API, status); new credentials are verified first."""
    require_manage(access, channel.client_id)
    before = service.connection_settings(channel)
    try:
        if status is not None:
            service._check_status(status)
        if data:
            service.update_channel(access, channel, data, via=via, commit=False)
        after = service.connection_settings(channel)
        if after != before or channel.verified_at is None and data.get("settings"):
            stamp(channel, verify_or_refuse(channel.network, after))
        if status is not None:
            service.set_channel_status(access, channel, status, via=via, commit=False)
    except Exception:
        db.session.rollback()
        raise
    names.commit()
    return channel


def connection_state(channel: Channel) -> str:
    """``connected`` (verified), ``unverified``, ``needs_reconnect`` or ``disabled``."""
    if channel.status != ChannelStatus.CONNECTED.value:
        return channel.status
    return "connected" if channel.verified_at is not None else "unverified"


def unverifiable_networks() -> list[Network]:
    """Networks Regia cannot check yet (their connector is not installed)."""
    registered = load_connectors()
    return [n for n in Network if n.value not in registered]
