"""Connecting a channel means verifying it: the network's "who am I" call on every save.

Views and the API save channels through here. Credentials the network refuses raise
ValidationFailed with the network's own message and nothing is written; a network that
cannot be reached is refused the same way, with a plain translated reason (README,
"Connecting channels"). A network whose connector is not available yet gets the channel
saved *unverified* (never shown as "Connected").
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpcore
import httpx
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
    unreachable: bool = False  # no answer at all: ``message`` is our plain words, not theirs

    @property
    def credentials_refused(self) -> bool:
        return self.error_class in (ErrorClass.AUTH_EXPIRED, ErrorClass.PERMANENT)


def check(
    network: str,
    settings: Mapping[str, str],
    on_refresh: Callable[[dict[str, str]], None] | None = None,
) -> AccountInfo | None:
    """Ask the network who these credentials belong to; None if it has no connector yet.

    ``on_refresh``: given, an expired token is refreshed once where the network allows it
    (X's access tokens live two hours) and the new secrets handed to it to store.
    """
    cls = load_connectors().get(network)
    if cls is None:
        return None
    with outbound.client() as http:
        connector = cls(dict(settings), http)
        try:
            try:
                return connector.verify()
            except PublishError as exc:
                fresh = None
                if exc.error_class is ErrorClass.AUTH_EXPIRED and on_refresh is not None:
                    fresh = connector.refresh_credentials()
                if not fresh:
                    raise
                on_refresh(fresh)  # X rotates refresh tokens: the old one is spent now
                return connector.verify()
        except Exception as exc:
            raise _failure(connector, exc) from exc


def _failure(connector: Connector, exc: Exception) -> CheckFailed:
    """The one place a verify() error becomes what users read: never a class name or errno."""
    reason = unreachable_reason(exc)
    if reason is not None:
        return CheckFailed(ErrorClass.RETRYABLE, reason, unreachable=True)
    if isinstance(exc, PublishError):
        return CheckFailed(exc.error_class, _short(exc.message))
    error = connector_error(connector, exc)
    return CheckFailed(error.error_class, _short(error.message))


def _causes(exc: BaseException | None):  # noqa: ANN202 - a small generator
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _host(chain: list[BaseException]) -> str:
    for exc in chain:
        if isinstance(exc, outbound.HostUnresolvable):
            return exc.host
        request = getattr(exc, "_request", None)  # httpx.RequestError keeps it here
        if isinstance(request, httpx.Request):
            return request.url.host
    return _("the network")


def unreachable_reason(exc: BaseException) -> str | None:
    """A plain, translated reason when the network gave no answer at all, else None."""
    chain = list(_causes(exc))
    host = _host(chain)

    def among(*kinds: type) -> bool:  # the chain runs outward-in: look at every link
        return any(isinstance(cause, kinds) for cause in chain)

    if among(outbound.HostUnresolvable):
        return _(
            "Could not reach %(host)s: the server name does not resolve. Check the address.",
            host=host,
        )
    if among(outbound.DestinationRefused):
        return _(
            "Could not reach %(host)s: it is a private or local address, which Regia does "
            "not connect to. Check the address.",
            host=host,
        )
    if among(httpx.TimeoutException, httpcore.TimeoutException):
        return _("Could not reach %(host)s: it did not answer in time. Try again later.", host=host)
    if among(outbound.OutboundError, httpx.TransportError, httpcore.NetworkError):
        return _(
            "Could not reach %(host)s: the connection failed. Check the address or try "
            "again later.",
            host=host,
        )
    return None


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
    if failure.unreachable:
        # The address is the likelier culprit than the token: put the reason next to it.
        field = next((s.name for s in specs if s.name.endswith("url")), field)
        message = failure.message
    elif failure.credentials_refused:
        message = _("The network refused these credentials: %(reason)s", reason=failure.message)
    else:
        message = _(
            "The network could not check these credentials right now: %(reason)s",
            reason=failure.message,
        )
    return ValidationFailed({"settings": {field: [message]}})


@dataclass(frozen=True)
class Verdict:
    account: AccountInfo | None  # None: not verified (no connector, or unreachable)
    unreachable: str | None = None  # why the network could not be asked


def verify_or_refuse(network: str, settings: Mapping[str, str]) -> Verdict:
    """The network's answer; ValidationFailed when it refuses them or cannot be reached."""
    try:
        return Verdict(check(network, settings))
    except CheckFailed as failure:
        raise _refusal(network, failure) from None


def stamp(channel: Channel, verdict: Verdict | AccountInfo | None) -> None:
    """Record a check: verified with the account, or not verified (and why, if unreachable)."""
    now = utcnow()
    if not isinstance(verdict, Verdict):
        verdict = Verdict(verdict)
    account = verdict.account
    if account is None:
        channel.verified_at = None
        if verdict.unreachable:
            channel.checked_at, channel.check_error = now, verdict.unreachable
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
    verdict = Verdict(account)
    if account is None:
        names.check_name_free(client.id, _name)
        verdict = verify_or_refuse(network.value, {**public, **secrets})
    given = dict(data)
    if verdict.account is not None and verdict.account.handle:
        given["handle"] = verdict.account.handle
    channel = service.add_channel(access, client, given, via=via)
    stamp(channel, verdict)
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
    # Credentials typed again for a channel the network refused: ask the network, even when
    # they are the ones stored (a token restored on the network's side is the same token).
    reconnecting = channel.status == ChannelStatus.NEEDS_RECONNECT.value and _secret_entered(
        channel.network, data
    )
    try:
        if status is not None:
            service._check_status(status)
        if data:
            service.update_channel(access, channel, data, via=via, commit=False)
        after = service.connection_settings(channel)
        reviving = status == ChannelStatus.CONNECTED.value and channel.status != status
        if (
            after != before
            or reviving
            or reconnecting
            or channel.verified_at is None
            and data.get("settings")
        ):
            stamp(channel, verify_or_refuse(channel.network, after))
        if status is not None:
            service.set_channel_status(access, channel, status, via=via, commit=False)
    except Exception:
        db.session.rollback()
        raise
    names.commit()
    return channel


def _secret_entered(network: str, data: Mapping[str, object]) -> bool:
    settings = data.get("settings")
    if not isinstance(settings, Mapping):
        return False
    return any(
        str(settings.get(s.name) or "").strip() for s in service.specs_for(network) if s.secret
    )


def enable_channel(access: Access, channel: Channel, *, via: str = "web") -> Channel:
    """Back to ``connected`` only once the network accepts the stored credentials again."""
    require_manage(access, channel.client_id)
    try:
        stamp(channel, verify_or_refuse(channel.network, service.connection_settings(channel)))
    except ValidationFailed:
        db.session.rollback()
        raise
    return service.set_channel_enabled(access, channel, True, via=via)


def connection_state(channel: Channel) -> str:
    """``connected`` (verified), ``unverified``, ``needs_reconnect`` or ``disabled``."""
    if channel.status != ChannelStatus.CONNECTED.value:
        return channel.status
    return "connected" if channel.verified_at is not None else "unverified"


def unverifiable_networks() -> list[Network]:
    """Networks Regia cannot check yet (their connector is not installed)."""
    registered = load_connectors()
    return [n for n in Network if n.value not in registered]
