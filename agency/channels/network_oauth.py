"""“Connect with X / LinkedIn / Facebook / Instagram”: OAuth 2 authorization code with the
app the operator registered (``REGIA_<X|LINKEDIN|FACEBOOK>_CLIENT_ID`` and ``_SECRET``).

1. ``start``: the manager names the channel; Regia returns the network's authorize URL with a
   random ``state`` (kept with the draft in the manager's signed session, used once) and, for
   X, a PKCE S256 challenge. The redirect URI is ``<REGIA_BASE_URL>/oauth/<provider>/callback``,
   one per provider, registered once by the operator.
2. ``finish``: the code is exchanged for a token (X: ``POST /2/oauth2/token`` with HTTP Basic;
   LinkedIn: ``POST /oauth/v2/accessToken``; Facebook: ``GET /oauth/access_token``, then the
   long-lived exchange). X saves the channel at once; LinkedIn lists who may author posts (the
   member, ``/v2/userinfo``, and the organizations they administer, ``organizationAcls``);
   Facebook lists the person's Pages (``/me/accounts``, each with its Page access token) or,
   for Instagram, the Pages' Instagram business accounts. One candidate is saved at once;
   several leave a ``Choice`` (the token encrypted) for the manager to pick from.
Every save goes through ``connect.add_channel``: the connector verifies the account first.
The calls to each network (token exchanges, account lists) are in ``network_oauth_providers``.

Reconnecting (``start`` with ``channel``): the flow keeps the channel's id and ``finish``
replaces that channel's tokens (``connect.update_channel``: verified, audited, needs_reconnect
cleared), keeping its name and settings, only when the account signed in is the one the
channel publishes as (its Page, Instagram account or LinkedIn author; on X, its handle).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from agency import crypto, outbound
from agency.channels import connect, service
from agency.channels import network_oauth_providers as providers
from agency.channels.models import Channel, Network
from agency.channels.oauth import _clean_draft_name, pkce_challenge
from agency.clients.service import require_manage
from agency.config import OAUTH_PROVIDERS, OAuthApp
from agency.db import db
from agency.errors import NotFound, ValidationFailed
from agency.publishing.connectors.graph import GRAPH_VERSION
from tenants.models import ClientCompany
from tenants.permissions import Access

PROVIDER = {
    Network.X.value: "x",
    Network.LINKEDIN.value: "linkedin",
    Network.FACEBOOK_PAGE.value: "facebook",
    Network.INSTAGRAM.value: "facebook",
}
SCOPES = {
    Network.X.value: "tweet.read tweet.write users.read offline.access media.write",
    # Share on LinkedIn (member), Community Management (pages: posting, and reading the pages
    # the member administers through organizationAcls), OpenID Connect (who signed in).
    Network.LINKEDIN.value: "openid profile w_member_social w_organization_social "
    "r_organization_social r_organization_admin",
    Network.FACEBOOK_PAGE.value: "pages_show_list,pages_read_engagement,pages_manage_posts,"
    "pages_read_user_content,pages_manage_engagement,business_management",
    Network.INSTAGRAM.value: "pages_show_list,pages_read_engagement,instagram_basic,"
    "instagram_content_publish,instagram_manage_comments,business_management",
}
# The setting naming the account a channel publishes as (X stores none: its handle is used).
ACCOUNT_SETTING = {
    Network.LINKEDIN.value: "organization_urn",
    Network.FACEBOOK_PAGE.value: "page_id",
    Network.INSTAGRAM.value: "ig_user_id",
}
BASE_SETTING = {"x": "api_base", "linkedin": "api_base", "facebook": "graph_base"}


@dataclass(frozen=True)
class Flow:
    """One sign-in in progress, kept in the signed session cookie (no secrets)."""

    state: str
    network: str
    client_id: str  # the Regia client company
    name: str
    agency_slug: str
    code_verifier: str | None = None
    channel_id: str | None = None  # reconnecting this channel, not adding one

    @property
    def provider(self) -> str:
        return PROVIDER[self.network]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flow | None:
        try:
            return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]
        except TypeError:
            return None


@dataclass(frozen=True)
class Choice:
    """Several accounts the token may post as: the manager picks one (kept in session)."""

    network: str
    client_id: str
    name: str
    token_encrypted: str  # the user's token, Fernet-encrypted: the cookie never holds it clear
    options: list[dict[str, str]] = field(default_factory=list)  # [{id, label}]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choice | None:
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__})
        except (KeyError, TypeError):
            return None


def oauth_app(network: str) -> OAuthApp | None:
    provider = PROVIDER.get(network)
    return current_app.config["REGIA"].oauth_apps.get(provider) if provider else None


def connectable_networks() -> set[str]:
    return {n for n in PROVIDER if oauth_app(n) is not None}


def _fail(message: str, field_name: str = "code") -> ValidationFailed:
    return ValidationFailed({field_name: [message]})


def _configured(network: str) -> OAuthApp:
    app = oauth_app(network)
    if app is None:
        raise _fail(_("Signing in with this network is not set up on this server."), "network")
    return app


def start(
    access: Access,
    client: ClientCompany,
    network: str,
    data: dict[str, object],
    agency_slug: str,
    channel: Channel | None = None,
) -> tuple[str, Flow]:
    """The network's authorize URL to send the manager to, and the flow to keep in session.

    ``channel``: an existing channel of ``client`` on ``network`` to reconnect (name kept)."""
    require_manage(access, client.id)
    app = _configured(network)
    if channel is not None and (channel.client_id != client.id or channel.network != network):
        raise NotFound(_("No such channel."))
    name = channel.name if channel else _clean_draft_name(client, data.get("name"))
    provider = PROVIDER[network]
    state = secrets.token_urlsafe(24)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": providers.redirect_uri(provider),
        "state": state,
        "scope": SCOPES[network],
    }
    verifier = None
    if provider == "x":
        verifier = secrets.token_urlsafe(48)
        query |= {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
        url = f"{app.authorize_base}/i/oauth2/authorize"
    elif provider == "linkedin":
        url = f"{app.authorize_base}/oauth/v2/authorization"
    else:
        url = f"{app.authorize_base}/{GRAPH_VERSION}/dialog/oauth"
    channel_id = str(channel.id) if channel else None
    flow = Flow(state, network, str(client.id), name, agency_slug, verifier, channel_id)
    return f"{url}?{urlencode(query, quote_via=quote)}", flow


def finish(access: Access, client: ClientCompany, flow: Flow, code: str) -> Channel | Choice:
    """Exchange ``code``; save the channel (one account) or return the accounts to pick from."""
    require_manage(access, client.id)
    app = _configured(flow.network)
    channel = _reconnecting(client, flow)  # before the code is spent: a gone channel stops here
    with outbound.client() as http:
        if flow.provider == "x":
            x_tokens = providers.token_x(http, app, code, flow.code_verifier)
        elif flow.provider == "linkedin":
            token = providers.token_linkedin(http, app, code)
            options = providers.linkedin_authors(http, app, token)
            tokens = {o["id"]: token for o in options}  # one member token posts for them all
        else:
            token = providers.token_facebook(http, app, code)
            accounts = providers.facebook_accounts(http, app, token, flow.network)
            options = [{"id": a["id"], "label": a["label"]} for a in accounts]
            tokens = {a["id"]: a["token"] for a in accounts}  # each Page's own token
    if flow.provider == "x":
        if channel is not None:
            return _reconnect_x(access, channel, app, x_tokens)
        return _finish_x(access, client, flow, app, x_tokens)
    if channel is not None:
        return _reconnect(access, channel, app, tokens)
    if not options:
        raise _fail(_nothing_to_connect(flow.network))
    choice = Choice(flow.network, flow.client_id, flow.name, crypto.encrypt_json({"t": token}))
    choice.options.extend(options[: providers.MAX_CHOICES])
    if len(options) == 1:
        return choose(access, client, choice, options[0]["id"])
    return choice


def choose(access: Access, client: ClientCompany, choice: Choice, option_id: str) -> Channel:
    """Save the channel for the account the manager picked among ``choice.options``."""
    require_manage(access, client.id)
    if option_id not in {o["id"] for o in choice.options}:
        raise _fail(_("Choose one of the accounts listed."), "account")
    app = _configured(choice.network)
    token = str(crypto.decrypt_json(choice.token_encrypted).get("t", ""))
    if choice.network == Network.LINKEDIN.value:
        settings = {"organization_urn": option_id, "access_token": token}
        settings |= _base("api_base", app.api_base, "linkedin")
    else:
        with outbound.client() as http:
            accounts = providers.facebook_accounts(http, app, token, choice.network)
        found = next((a for a in accounts if a["id"] == option_id), None)
        if found is None:
            raise _fail(_("Facebook no longer lists this account. Start connecting again."))
        key = "page_id" if choice.network == Network.FACEBOOK_PAGE.value else "ig_user_id"
        settings = {key: option_id, "access_token": found["token"]}
        settings |= _base("graph_base", app.api_base, "facebook")
    data = {"network": choice.network, "name": choice.name, "settings": settings}
    return connect.add_channel(access, client, data, via="oauth")


def _base(key: str, value: str, provider: str) -> dict[str, str]:
    """The API base a channel stores only when the operator moved it (tests: a loopback fake)."""
    return {} if value == OAUTH_PROVIDERS[provider][1] else {key: value}


def _nothing_to_connect(network: str) -> str:
    if network == Network.INSTAGRAM.value:
        return _(
            "None of your Facebook Pages has an Instagram business account linked. Link one "
            "in the Page's settings, then connect again."
        )
    if network == Network.FACEBOOK_PAGE.value:
        return _("This Facebook account manages no Page that Regia was allowed to use.")
    return _("This LinkedIn account has nothing Regia may post as.")


def _finish_x(
    access: Access, client: ClientCompany, flow: Flow, app: OAuthApp, tokens: dict
) -> Channel:
    settings = {"access_token": str(tokens["access_token"]), "client_id": app.client_id}
    if tokens.get("refresh_token"):
        settings["refresh_token"] = str(tokens["refresh_token"])
    settings |= _base("api_base", app.api_base, "x")
    data = {"network": flow.network, "name": flow.name, "settings": settings}
    return connect.add_channel(access, client, data, via="oauth")


def _reconnecting(client: ClientCompany, flow: Flow) -> Channel | None:
    """The channel the flow reconnects (None when it adds one); gone since the start: refused."""
    if not flow.channel_id:
        return None
    channel = db.session.scalar(
        select(Channel).where(
            Channel.id == uuid.UUID(flow.channel_id), Channel.client_id == client.id
        )
    )
    if channel is None or channel.network != flow.network:
        raise _fail(_("This channel no longer exists. Start connecting again."))
    return channel


def _another_account(channel: Channel) -> ValidationFailed:
    return _fail(
        _(
            "The %(network)s account you signed in with is not the one %(name)s publishes as, "
            "so nothing was changed. Sign in with that account and try again.",
            network=service.NETWORK_LABELS[Network(channel.network)],
            name=channel.name,
        )
    )


def _save_tokens(
    access: Access, channel: Channel, app: OAuthApp, settings: dict[str, str]
) -> Channel:
    """New tokens for ``channel``, sent to the API the app got them from; verified on save."""
    settings[BASE_SETTING[PROVIDER[channel.network]]] = app.api_base
    return connect.update_channel(access, channel, {"settings": settings}, via="oauth")


def _reconnect(access: Access, channel: Channel, app: OAuthApp, tokens: dict[str, str]) -> Channel:
    """LinkedIn, Facebook, Instagram: the token for the account the channel publishes as."""
    key = ACCOUNT_SETTING[channel.network]
    account = str(channel.settings.get(key) or "")
    if not account or account not in tokens:
        raise _another_account(channel)
    return _save_tokens(access, channel, app, {key: account, "access_token": tokens[account]})


def _reconnect_x(access: Access, channel: Channel, app: OAuthApp, tokens: dict) -> Channel:
    """X: channels store no user id, so the account is recognised by its verified handle."""
    settings = {"access_token": str(tokens["access_token"]), "client_id": app.client_id}
    if tokens.get("refresh_token"):
        settings["refresh_token"] = str(tokens["refresh_token"])
    checked = {**settings, BASE_SETTING["x"]: app.api_base}
    account = connect.verify_or_refuse(Network.X.value, checked).account
    handle = (channel.handle or "").casefold()  # X usernames ignore case
    if account is None or not handle or account.handle.casefold() != handle:
        raise _another_account(channel)
    return _save_tokens(access, channel, app, settings)
