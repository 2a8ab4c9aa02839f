"""Channels of a client: per-network settings, validation and encrypted credentials.

Secret settings (tokens, passwords, signing secrets) go only into ``credentials_encrypted``;
they are never returned, rendered, logged or written to the audit log.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from agency import audit, crypto
from agency.channels import names
from agency.channels.endpoints import mask_url, url_error
from agency.channels.models import Channel, ChannelStatus, Network
from agency.clients.service import require_manage
from agency.db import db
from agency.errors import NotFound, ValidationFailed
from tenants.models import ClientCompany
from tenants.names import InvalidName, clean_name
from tenants.permissions import Access

SECRET_FIELDS = frozenset({"access_token", "refresh_token", "app_password", "secret"})


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: str = "text"  # text | url | secret
    default: str | None = None  # base URLs default to the network's public API
    pattern: str | None = None
    max_length: int = 4000
    sensitive: bool = False  # a URL that is itself a credential (webhook URLs)

    @property
    def secret(self) -> bool:
        return self.kind == "secret" or self.sensitive


def _url(name: str, default: str | None = None) -> SettingSpec:
    return SettingSpec(name, "url", default)


def _secret(name: str) -> SettingSpec:
    return SettingSpec(name, "secret")


NETWORK_SETTINGS: dict[Network, tuple[SettingSpec, ...]] = {
    Network.MASTODON: (_url("instance_url"), _secret("access_token")),
    Network.BLUESKY: (
        _url("pds_url", "https://bsky.social"),
        SettingSpec("handle", max_length=200),  # also the channel's handle column
        _secret("app_password"),
    ),
    Network.X: (
        _secret("access_token"),
        _secret("refresh_token"),
        SettingSpec("client_id"),
        _url("api_base", "https://api.x.com"),
    ),
    Network.FACEBOOK_PAGE: (
        SettingSpec("page_id", pattern=r"^\d{1,30}$"),
        _secret("access_token"),
        _url("graph_base", "https://graph.facebook.com"),
    ),
    Network.INSTAGRAM: (
        SettingSpec("ig_user_id", pattern=r"^\d{1,30}$"),
        _secret("access_token"),
        _url("graph_base", "https://graph.facebook.com"),
    ),
    Network.LINKEDIN: (
        # The post's author: an organization, or the member ("Connect with LinkedIn").
        SettingSpec("organization_urn", pattern=r"^urn:li:(organization:\d+|person:[\w-]{1,100})$"),
        _secret("access_token"),
        _url("api_base", "https://api.linkedin.com"),
    ),
    # Slack/Discord-style webhook URLs are credentials: stored encrypted, shown masked.
    Network.WEBHOOK: (SettingSpec("url", "url", sensitive=True), _secret("secret")),
    Network.MANUAL: (),
}
NETWORK_LABELS = {
    Network.MASTODON: _l("Mastodon"),
    Network.BLUESKY: _l("Bluesky"),
    Network.X: _l("X"),
    Network.FACEBOOK_PAGE: _l("Facebook Page"),
    Network.INSTAGRAM: _l("Instagram"),
    Network.LINKEDIN: _l("LinkedIn"),
    Network.WEBHOOK: _l("Webhook"),
    Network.MANUAL: _l("Manual"),
}
# A post's target names its network for readers: a manual channel is published by hand.
TARGET_LABELS = {**NETWORK_LABELS, Network.MANUAL: _l("Published by hand")}


def network_label(network: str) -> str:
    """A post target's network as people say it (``{{ t.network|network_label }}``)."""
    try:
        return str(TARGET_LABELS[Network(network)])
    except ValueError:
        return network


# Whole sentences, not "Add a %(network)s channel": articles and adjectives differ by language.
ADD_TITLES = {
    Network.MASTODON: _l("Add a Mastodon channel"),
    Network.BLUESKY: _l("Add a Bluesky channel"),
    Network.X: _l("Add an X channel"),
    Network.FACEBOOK_PAGE: _l("Add a Facebook Page"),
    Network.INSTAGRAM: _l("Add an Instagram channel"),
    Network.LINKEDIN: _l("Add a LinkedIn channel"),
    Network.WEBHOOK: _l("Add a webhook channel"),
    Network.MANUAL: _l("Add a manual channel"),
}


def specs_for(network: str) -> tuple[SettingSpec, ...]:
    return NETWORK_SETTINGS[Network(network)]


def parse_network(value: object) -> Network:
    try:
        return Network(str(value or "").strip())
    except ValueError as exc:
        raise ValidationFailed(
            {"network": [_("Unknown network. Choose one of: %(n)s.", n=", ".join(Network))]}
        ) from exc


def validate_settings(
    network: Network,
    given: Mapping[str, object],
    stored_secrets: Mapping[str, str] | None = None,
    previous: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """``(public settings, secrets)`` for ``network``, or ValidationFailed with per-setting errors.

    ``stored_secrets`` are kept for secret fields left blank (editing a channel), unless an
    endpoint changes from its ``previous`` value (stored settings and secrets): then every
    secret must be entered again, so a stored token is never sent to a host it was not given for.
    """
    specs = NETWORK_SETTINGS[network]
    known = {spec.name for spec in specs}
    errors: dict[str, list[str]] = {}
    for key in given:
        if key not in known:
            errors[key] = [_("Not a setting of this network.")]
    public: dict[str, str] = {}
    secrets: dict[str, str] = {}
    kept: list[str] = []
    for spec in specs:
        raw = given.get(spec.name)
        value = str(raw).strip() if raw is not None else ""
        if len(value) > spec.max_length:
            errors[spec.name] = [_("Use at most %(n)d characters.", n=spec.max_length)]
            continue
        if not value and spec.secret and stored_secrets and spec.name in stored_secrets:
            secrets[spec.name] = stored_secrets[spec.name]
            kept.append(spec.name)
            continue
        if not value and spec.default:
            value = spec.default
        if spec.kind == "url" and not spec.sensitive:
            value = value.rstrip("/")
        problem = url_error(value) if value and spec.kind == "url" else None
        if not value:
            errors[spec.name] = [_("This setting is required.")]
        elif problem:
            errors[spec.name] = [problem]
        elif spec.pattern and not re.match(spec.pattern, value):
            errors[spec.name] = [_("This value does not have the expected format.")]
        elif spec.secret:
            secrets[spec.name] = value
        else:
            public[spec.name] = value
    if not errors and previous is not None:
        new = {**public, **secrets}
        moved = [s.name for s in specs if s.kind == "url" and new[s.name] != previous.get(s.name)]
        for name in kept if moved else ():
            errors[name] = [_("The endpoint is changing: enter this secret again to confirm it.")]
    if errors:
        raise ValidationFailed({"settings": errors})
    return public, secrets


def _clean_name(name: object, errors: dict) -> str:
    try:
        return clean_name(name, 200) or ""
    except InvalidName as exc:
        errors["name"] = [str(exc)]
        return


def _clean_handle(handle: object, errors: dict) -> str | None:
    text = str(handle or "").strip()
    if len(text) > 200:
        errors["handle"] = [_("Use at most %(n)d characters.", n=200)]
    return text or None


def _validate(
    network: Network,
    data: Mapping[str, object],
    stored_secrets: Mapping[str, str] | None = None,
    previous: Mapping[str, str] | None = None,
) -> tuple[str, str | None, dict[str, str], dict[str, str]]:
    errors: dict = {}
    name = _clean_name(data.get("name"), errors)
    handle = _clean_handle(data.get("handle"), errors)
    settings = data.get("settings") or {}
    if not isinstance(settings, Mapping):
        errors["settings"] = {"_schema": [_("Settings must be an object.")]}
        settings = {}
    try:
        public, secrets = validate_settings(network, settings, stored_secrets, previous)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        public, secrets = {}, {}
    if errors:
        raise ValidationFailed(errors)
    if handle is None and "handle" in public:
        handle = public["handle"]
    return name, handle, public, secrets


def list_channels(access: Access, client: ClientCompany) -> list[Channel]:
    """The client's channels; the caller got ``client`` through ``get_client`` (visibility)."""
    return list(
        db.session.scalars(
            select(Channel).where(Channel.client_id == client.id).order_by(Channel.name)
        )
    )


def get_channel(access: Access, client: ClientCompany, channel_id: uuid.UUID) -> Channel:
    # A SELECT, not Session.get: an identity-map hit would skip the tenant criteria.
    channel = db.session.scalar(
        select(Channel).where(Channel.id == channel_id, Channel.client_id == client.id)
    )
    if channel is None:
        raise NotFound(_("No such channel."))
    return channel


def credential_fields(channel: Channel) -> list[str]:
    """Names (never values) of the secret settings stored for ``channel``."""
    if not channel.credentials_encrypted:
        return []
    return [spec.name for spec in specs_for(channel.network) if spec.secret]


def masked_secrets(channel: Channel) -> dict[str, str]:
    """Secret URLs shown masked (``https://host/…``) to the managers editing the channel."""
    sensitive = [spec.name for spec in specs_for(channel.network) if spec.sensitive]
    if not sensitive or not channel.credentials_encrypted:
        return {}
    stored = crypto.decrypt_json(channel.credentials_encrypted)
    return {name: mask_url(stored.get(name)) for name in sensitive if stored.get(name)}


def connection_settings(channel: Channel) -> dict[str, str]:
    """Settings and decrypted secrets together, for the connector that publishes; never render."""
    return decrypted_settings(channel.settings, channel.credentials_encrypted)


def decrypted_settings(settings: dict | None, credentials_encrypted: str | None) -> dict[str, str]:
    """``connection_settings`` from a channel's two columns (the publish job reads rows)."""
    return {**(settings or {}), **crypto.decrypt_json(credentials_encrypted)}


def _record(access: Access, action: str, channel: Channel, via: str, **data: object) -> None:
    audit.record_by(
        access,
        action,
        subject_type="channel",
        subject_id=channel.id,
        client_id=channel.client_id,
        via=via,
        network=channel.network,
        name=channel.name,
        **data,
    )


def add_channel(
    access: Access, client: ClientCompany, data: Mapping[str, object], *, via: str = "web"
) -> Channel:
    """Register a channel for ``client``; commits. Raises ValidationFailed/PermissionDenied."""
    require_manage(access, client.id)
    network = parse_network(data.get("network"))
    name, handle, public, secrets = _validate(network, data)
    names.check_name_free(client.id, name)
    channel = Channel(
        id=uuid.uuid4(),
        client_id=client.id,
        network=network.value,
        name=name,
        handle=handle,
        settings=public,
        credentials_encrypted=crypto.encrypt_json(secrets) if secrets else None,
        status=ChannelStatus.CONNECTED.value,
    )
    db.session.add(channel)
    _record(access, "channel.added", channel, via, settings=sorted(public))
    names.commit()
    return channel


def update_channel(
    access: Access,
    channel: Channel,
    data: Mapping[str, object],
    *,
    via: str = "web",
    commit: bool = True,
) -> Channel:
    """Change name, handle and settings; blank secret settings keep their stored value."""
    require_manage(access, channel.client_id)
    network = Network(channel.network)
    if data.get("network") not in (None, "", network.value):
        raise ValidationFailed({"network": [_("A channel's network cannot be changed.")]})
    merged = {"name": channel.name, "handle": channel.handle, **data}
    if isinstance(data.get("settings"), Mapping):
        merged["settings"] = {**channel.settings, **data["settings"]}
    else:
        merged.setdefault("settings", None)
        merged["settings"] = merged["settings"] or dict(channel.settings)
    stored = crypto.decrypt_json(channel.credentials_encrypted)
    previous = {**channel.settings, **stored}
    name, handle, public, secrets = _validate(network, merged, stored, previous)
    names.check_name_free(channel.client_id, name, exclude=channel.id)
    secrets_changed = secrets != stored
    channel.name, channel.handle, channel.settings = name, handle, public
    if secrets_changed:
        channel.credentials_encrypted = crypto.encrypt_json(secrets) if secrets else None
        if channel.status == ChannelStatus.NEEDS_RECONNECT.value:
            channel.status = ChannelStatus.CONNECTED.value  # new credentials: try again
    _record(access, "channel.updated", channel, via, credentials_changed=secrets_changed)
    if commit:
        names.commit()
    return channel


def set_channel_enabled(
    access: Access, channel: Channel, enabled: bool, *, via: str = "web", commit: bool = True
) -> Channel:
    require_manage(access, channel.client_id)
    channel.status = (ChannelStatus.CONNECTED if enabled else ChannelStatus.DISABLED).value
    _record(access, "channel.enabled" if enabled else "channel.disabled", channel, via)
    if commit:
        db.session.commit()
    return channel


def _check_status(status: str) -> None:
    if status not in (ChannelStatus.CONNECTED.value, ChannelStatus.DISABLED.value):
        raise ValidationFailed({"status": [_("Use connected or disabled.")]})


def set_channel_status(
    access: Access, channel: Channel, status: str, *, via: str = "api", commit: bool = True
) -> Channel:
    """The API's status change: only ``connected`` (enable) and ``disabled`` may be asked for."""
    _check_status(status)
    enabled = status == ChannelStatus.CONNECTED.value
    return set_channel_enabled(access, channel, enabled, via=via, commit=commit)


def delete_channel(access: Access, channel: Channel, *, via: str = "web") -> None:
    require_manage(access, channel.client_id)
    _record(access, "channel.removed", channel, via)
    db.session.delete(channel)
    db.session.commit()


def rotate_all_credentials() -> int:
    """Re-encrypt every channel's credentials under the newest key; returns how many."""
    from tenants.context import tenant_context
    from tenants.models import Agency

    count = 0
    agency_ids = list(db.session.scalars(select(Agency.id)))
    for agency_id in agency_ids:
        with tenant_context(agency_id):
            channels = db.session.scalars(
                select(Channel).where(Channel.credentials_encrypted.is_not(None))
            )
            for channel in channels:
                channel.credentials_encrypted = crypto.rotate(channel.credentials_encrypted)
                count += 1
            db.session.commit()
    return count
