"""“Connect with Mastodon”: the OAuth 2 authorization-code flow against any instance.

1. ``start_mastodon``: the manager types the instance's address; Regia registers an app there
   once (``POST /api/v1/apps``, cached per agency, instance and redirect URI) and returns the
   instance's ``/oauth/authorize`` URL with a random ``state`` and, when the instance announces
   it (``/.well-known/oauth-authorization-server``), a PKCE S256 challenge. The caller keeps
   the returned ``Pending`` in the user's session: the state is bound to that session and to
   the channel draft (client, name, instance).
2. ``finish_mastodon``: the instance redirects back with ``code`` and ``state``; the code is
   exchanged at ``POST /oauth/token``, the account is read with ``verify_credentials``, and
   the channel is saved verified (``connect.add_channel``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from flask_babel import gettext as _
from sqlalchemy import select

from agency import crypto, outbound
from agency.channels import connect, names
from agency.channels.endpoints import url_error
from agency.channels.models import Channel, MastodonApp, Network
from agency.clients.service import require_manage
from agency.db import db
from agency.errors import ValidationFailed
from agency.publishing.connectors.base import AccountInfo
from tenants.models import ClientCompany
from tenants.names import InvalidName, clean_name
from tenants.permissions import Access

SCOPES = "read write"
APP_NAME = "Regia"
APP_WEBSITE = "https://github.com/regia"
MAX_PENDING = 5  # flows one session may have open at once (several tabs)


@dataclass(frozen=True)
class Pending:
    """One flow in progress, kept in the signed session cookie (no secrets of the app)."""

    state: str
    client_id: str  # the Regia client company
    name: str
    instance_url: str
    redirect_uri: str
    code_verifier: str | None
    channel_id: str | None = None  # reconnecting this channel, not adding one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pending:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed({field: [message]})


def _unreachable(exc: Exception | httpx.Response) -> ValidationFailed:
    if isinstance(exc, httpx.Response):
        reason = _("it answered %(status)d", status=exc.status_code)
    else:
        reason = str(exc) or type(exc).__name__
    return _fail(
        "instance_url",
        _("This Mastodon server could not be reached (%(reason)s).", reason=reason),
    )


def clean_instance(value: object) -> str:
    url = str(value or "").strip().rstrip("/")
    if url and "://" not in url:
        url = "https://" + url  # people type "mastodon.social"
    if not url:
        raise _fail("instance_url", _("Enter the address of the Mastodon server."))
    problem = url_error(url)
    if problem:
        raise _fail("instance_url", problem)
    return url


def _clean_draft_name(client: ClientCompany, value: object) -> str:
    try:
        name = clean_name(value, 200) or ""
    except InvalidName as exc:
        raise _fail("name", str(exc)) from exc
    if not name:
        raise _fail("name", _("Enter a name for the channel."))
    names.check_name_free(client.id, name)
    return name


def _app_for(http: outbound.OutboundClient, instance: str, redirect_uri: str) -> MastodonApp:
    app = db.session.scalar(
        select(MastodonApp).where(
            MastodonApp.instance_url == instance, MastodonApp.redirect_uri == redirect_uri
        )
    )
    if app is not None:
        return app
    try:
        response = http.post(
            f"{instance}/api/v1/apps",
            data={
                "client_name": APP_NAME,
                "redirect_uris": redirect_uri,
                "scopes": SCOPES,
                "website": APP_WEBSITE,
            },
        )
    except Exception as exc:  # noqa: BLE001 - any transport failure is the same answer
        raise _unreachable(exc) from exc
    body = outbound.json_object(response)
    if response.status_code != 200 or not body.get("client_id") or not body.get("client_secret"):
        raise _unreachable(response)
    app = MastodonApp(
        instance_url=instance,
        redirect_uri=redirect_uri,
        client_id=str(body["client_id"]),
        client_secret_encrypted=crypto.encrypt_json({"client_secret": body["client_secret"]}),
        scopes=SCOPES,
    )
    db.session.add(app)
    db.session.commit()
    return app


def supports_pkce(http: outbound.OutboundClient, instance: str) -> bool:
    """Mastodon 4.3+ announces S256 in its authorization server metadata (RFC 8414)."""
    try:
        response = http.get(f"{instance}/.well-known/oauth-authorization-server")
    except Exception:  # noqa: BLE001 - older servers: no metadata, no PKCE
        return False
    methods = outbound.json_object(response).get("code_challenge_methods_supported") or []
    return response.status_code == 200 and "S256" in methods


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def start_mastodon(
    access: Access,
    client: ClientCompany,
    data: dict[str, object],
    redirect_uri: str,
    channel: Channel | None = None,
) -> tuple[str, Pending]:
    """The instance's authorize URL to send the manager to, and the flow to keep in session.

    ``channel``: an existing channel to reconnect (its name is kept; a new token replaces the
    one the network refused)."""
    require_manage(access, client.id)
    errors: dict[str, list[str]] = {}
    instance = name = ""
    for field, clean in (
        ("instance_url", lambda: clean_instance(data.get("instance_url"))),
        ("name", lambda: channel.name if channel else _clean_draft_name(client, data.get("name"))),
    ):
        try:
            value = clean()
        except ValidationFailed as exc:
            errors.update(exc.errors)
            continue
        instance, name = (value, name) if field == "instance_url" else (instance, value)
    if errors:
        raise ValidationFailed(errors)
    with outbound.client() as http:
        app = _app_for(http, instance, redirect_uri)
        verifier = secrets.token_urlsafe(48) if supports_pkce(http, instance) else None
    state = secrets.token_urlsafe(24)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "scope": app.scopes,
        "state": state,
    }
    if verifier:
        query |= {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    pending = Pending(
        state, str(client.id), name, instance, redirect_uri, verifier,
        str(channel.id) if channel else None,
    )  # fmt: skip
    return f"{instance}/oauth/authorize?{urlencode(query)}", pending


def finish_mastodon(access: Access, client: ClientCompany, pending: Pending, code: str) -> Channel:
    """Exchange ``code`` for a token, read the account, save the channel verified; commits."""
    require_manage(access, client.id)
    app = db.session.scalar(
        select(MastodonApp).where(
            MastodonApp.instance_url == pending.instance_url,
            MastodonApp.redirect_uri == pending.redirect_uri,
        )
    )
    if app is None:
        raise _fail("code", _("This sign-in expired. Start connecting the channel again."))
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": crypto.decrypt_json(app.client_secret_encrypted)["client_secret"],
        "redirect_uri": pending.redirect_uri,
        "scope": app.scopes,
    }
    if pending.code_verifier:
        form["code_verifier"] = pending.code_verifier
    with outbound.client() as http:
        try:
            response = http.post(f"{pending.instance_url}/oauth/token", data=form)
        except Exception as exc:  # noqa: BLE001
            raise _unreachable(exc) from exc
        answer = outbound.json_object(response)
        token = answer.get("access_token")
        if response.status_code != 200 or not token:
            reason = answer.get("error_description") or answer.get("error")
            raise _fail(
                "code",
                _("Mastodon did not grant access: %(reason)s", reason=reason or response.text),
            )
        settings = {"instance_url": pending.instance_url, "access_token": str(token)}
        account = connect.verify_or_refuse(Network.MASTODON.value, settings).account
        if account is None:  # no Mastodon connector installed: the flow's own check
            account = _verify_credentials(http, settings)
    if pending.channel_id:
        channel = db.session.scalar(
            select(Channel).where(
                Channel.id == uuid.UUID(pending.channel_id), Channel.client_id == client.id
            )
        )
        if channel is None or channel.network != Network.MASTODON.value:
            raise _fail("code", _("This channel no longer exists. Start connecting again."))
        # Verified again on save (connect.update_channel): a refused token changes nothing.
        return connect.update_channel(access, channel, {"settings": settings}, via="oauth")
    data = {"network": Network.MASTODON.value, "name": pending.name, "settings": settings}
    return connect.add_channel(access, client, data, via="oauth", account=account)


def _verify_credentials(http: outbound.OutboundClient, settings: dict[str, str]) -> AccountInfo:
    url = f"{settings['instance_url']}/api/v1/accounts/verify_credentials"
    try:
        response = http.get(url, headers={"Authorization": f"Bearer {settings['access_token']}"})
    except Exception as exc:  # noqa: BLE001
        raise _unreachable(exc) from exc
    body = outbound.json_object(response)
    if response.status_code != 200 or "acct" not in body:
        reason = body.get("error") or response.status_code
        raise _fail("code", _("Mastodon refused the new token: %(reason)s", reason=reason))
    acct = str(body["acct"])  # "name" for the instance's own accounts, else "name@host"
    host = urlsplit(settings["instance_url"]).netloc
    return AccountInfo(
        handle="@" + (acct if "@" in acct else f"{acct}@{host}"),
        display_name=str(body.get("display_name") or ""),
        avatar_url=body.get("avatar"),
    )


def client_of(pending: Pending) -> uuid.UUID:
    return uuid.UUID(pending.client_id)
