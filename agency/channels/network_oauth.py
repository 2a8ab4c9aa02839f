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
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from flask import current_app
from flask_babel import gettext as _

from agency import crypto, outbound
from agency.channels import connect
from agency.channels.models import Channel, Network
from agency.channels.oauth import _clean_draft_name, pkce_challenge
from agency.clients.service import require_manage
from agency.config import OAUTH_PROVIDERS, OAuthApp
from agency.errors import ValidationFailed
from agency.publishing.connectors.graph import GRAPH_VERSION
from agency.publishing.connectors.linkedin import LINKEDIN_VERSION
from tenants.models import ClientCompany
from tenants.permissions import Access

log = logging.getLogger(__name__)

PROVIDER = {
    Network.X.value: "x",
    Network.LINKEDIN.value: "linkedin",
    Network.FACEBOOK_PAGE.value: "facebook",
    Network.INSTAGRAM.value: "facebook",
}
NETWORK_NAMES = {"x": "X", "linkedin": "LinkedIn", "facebook": "Facebook"}
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
# LinkedIn roles that may post as the organization.
POSTING_ROLES = {"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER"}
MAX_CHOICES = 100  # one page of /me/accounts
MAX_REASON = 200


@dataclass(frozen=True)
class Flow:
    """One sign-in in progress, kept in the signed session cookie (no secrets)."""

    state: str
    network: str
    client_id: str  # the Regia client company
    name: str
    agency_slug: str
    code_verifier: str | None = None

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


def redirect_uri(provider: str) -> str:
    return f"{current_app.config['REGIA'].base_url}/oauth/{provider}/callback"


def _fail(message: str, field_name: str = "code") -> ValidationFailed:
    return ValidationFailed({field_name: [message]})


def _configured(network: str) -> OAuthApp:
    app = oauth_app(network)
    if app is None:
        raise _fail(_("Signing in with this network is not set up on this server."), "network")
    return app


def start(
    access: Access, client: ClientCompany, network: str, data: dict[str, object], agency_slug: str
) -> tuple[str, Flow]:
    """The network's authorize URL to send the manager to, and the flow to keep in session."""
    require_manage(access, client.id)
    app = _configured(network)
    name = _clean_draft_name(client, data.get("name"))
    provider = PROVIDER[network]
    state = secrets.token_urlsafe(24)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri(provider),
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
    flow = Flow(state, network, str(client.id), name, agency_slug, verifier)
    return f"{url}?{urlencode(query, quote_via=quote)}", flow


def finish(access: Access, client: ClientCompany, flow: Flow, code: str) -> Channel | Choice:
    """Exchange ``code``; save the channel (one account) or return the accounts to pick from."""
    require_manage(access, client.id)
    app = _configured(flow.network)
    with outbound.client() as http:
        if flow.provider == "x":
            return _finish_x(access, client, flow, app, _token_x(http, app, flow, code))
        if flow.provider == "linkedin":
            token = _token_linkedin(http, app, code)
            options = _linkedin_authors(http, app, token)
        else:
            token = _token_facebook(http, app, code)
            options = [
                {"id": o["id"], "label": o["label"]}
                for o in _facebook_accounts(http, app, token, flow.network)
            ]
    if not options:
        raise _fail(_nothing_to_connect(flow.network))
    choice = Choice(flow.network, flow.client_id, flow.name, crypto.encrypt_json({"t": token}))
    choice.options.extend(options[:MAX_CHOICES])
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
            accounts = _facebook_accounts(http, app, token, choice.network)
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


# -- token exchanges ---------------------------------------------------------------------------
def _refused(provider: str, response: httpx.Response | Exception) -> ValidationFailed:
    if isinstance(response, Exception):
        reason = str(response) or type(response).__name__
    else:
        body = outbound.json_object(response)
        error = body.get("error")
        if isinstance(error, dict):  # Graph: {"error": {"message", "code", …}}
            reason = str(error.get("message") or "")
        else:
            reason = str(body.get("error_description") or error or body.get("message") or "")
        reason = reason or _("it answered %(status)d", status=response.status_code)
    return _fail(
        _(
            "%(network)s did not complete the sign-in: %(reason)s. Nothing was connected; "
            "try again.",
            network=NETWORK_NAMES[provider],
            reason=" ".join(reason.split())[:MAX_REASON],
        )
    )


def _post_or_get(provider: str, send: Callable[[], httpx.Response]) -> dict[str, Any]:
    try:
        response = send()
    except Exception as exc:  # noqa: BLE001 - any transport failure is the same answer
        raise _refused(provider, exc) from exc
    body = outbound.json_object(response)
    if response.status_code != 200 or not body.get("access_token"):
        raise _refused(provider, response)
    return body


def _token_x(http: outbound.OutboundClient, app: OAuthApp, flow: Flow, code: str) -> dict:
    pair = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri("x"),
        "code_verifier": flow.code_verifier or "",
    }
    return _post_or_get(
        "x",
        lambda: http.post(
            f"{app.api_base}/2/oauth2/token", data=form, headers={"Authorization": f"Basic {pair}"}
        ),
    )


def _finish_x(
    access: Access, client: ClientCompany, flow: Flow, app: OAuthApp, tokens: dict
) -> Channel:
    settings = {"access_token": str(tokens["access_token"]), "client_id": app.client_id}
    if tokens.get("refresh_token"):
        settings["refresh_token"] = str(tokens["refresh_token"])
    settings |= _base("api_base", app.api_base, "x")
    data = {"network": flow.network, "name": flow.name, "settings": settings}
    return connect.add_channel(access, client, data, via="oauth")


def _token_linkedin(http: outbound.OutboundClient, app: OAuthApp, code: str) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": redirect_uri("linkedin"),
    }
    url = f"{app.authorize_base}/oauth/v2/accessToken"
    return str(_post_or_get("linkedin", lambda: http.post(url, data=form))["access_token"])


def _token_facebook(http: outbound.OutboundClient, app: OAuthApp, code: str) -> str:
    url = f"{app.api_base}/{GRAPH_VERSION}/oauth/access_token"
    pair = {"client_id": app.client_id, "client_secret": app.client_secret}
    short = _post_or_get(
        "facebook",
        lambda: http.get(
            url, params={**pair, "redirect_uri": redirect_uri("facebook"), "code": code}
        ),
    )
    # Page tokens read with a long-lived user token do not expire (Graph "Long-lived tokens").
    long = _post_or_get(
        "facebook",
        lambda: http.get(
            url,
            params={
                **pair,
                "grant_type": "fb_exchange_token",
                "fb_exchange_token": short["access_token"],
            },
        ),
    )
    return str(long["access_token"])


# -- who the token may post as -------------------------------------------------------------------
def _api_get(
    provider: str, http: outbound.OutboundClient, url: str, token: str, **kwargs: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        response = http.get(url, headers=headers, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise _refused(provider, exc) from exc
    if response.status_code != 200:
        raise _refused(provider, response)
    return outbound.json_object(response)


def _linkedin_authors(http: outbound.OutboundClient, app: OAuthApp, token: str) -> list[dict]:
    rest = {"LinkedIn-Version": LINKEDIN_VERSION, "X-Restli-Protocol-Version": "2.0.0"}
    me = _api_get("linkedin", http, f"{app.api_base}/v2/userinfo", token)
    options = []
    if me.get("sub"):
        label = _("%(name)s (your profile)", name=str(me.get("name") or me["sub"]))
        options.append({"id": f"urn:li:person:{me['sub']}", "label": label})
    try:
        acls = _api_get(
            "linkedin",
            http,
            f"{app.api_base}/rest/organizationAcls",
            token,
            params={"q": "roleAssignee", "state": "APPROVED"},
            headers=rest,
        )
    except ValidationFailed:
        if not options:
            raise
        # The pages could not be listed (an app without the page product, a member token
        # without the admin scope): the member can still post as themselves.
        log.warning("linkedin: organizationAcls refused; offering the member's profile only")
        acls = {}
    seen = set()
    for acl in acls.get("elements") or []:
        urn = str(acl.get("organization") or "")
        if acl.get("role") not in POSTING_ROLES or not urn.startswith("urn:li:organization:"):
            continue
        if urn in seen or len(seen) >= MAX_CHOICES:
            continue
        seen.add(urn)
        org_id = urn.rsplit(":", 1)[-1]
        org = _api_get(
            "linkedin", http, f"{app.api_base}/rest/organizations/{org_id}", token, headers=rest
        )
        options.append({"id": urn, "label": str(org.get("localizedName") or urn)})
    return options


def _facebook_accounts(
    http: outbound.OutboundClient, app: OAuthApp, token: str, network: str
) -> list[dict[str, str]]:
    """``[{id, label, token}]``: the Pages (or their Instagram accounts) with the Page token."""
    fields = "id,name,access_token,instagram_business_account{id,username}"
    url = f"{app.api_base}/{GRAPH_VERSION}/me/accounts"
    found: list[dict[str, str]] = []
    body = _api_get("facebook", http, url, token, params={"fields": fields, "limit": "100"})
    for page in body.get("data") or []:
        if not isinstance(page, dict) or not page.get("access_token"):
            continue
        if network == Network.FACEBOOK_PAGE.value:
            found.append(
                {
                    "id": str(page["id"]),
                    "label": str(page.get("name") or page["id"]),
                    "token": str(page["access_token"]),
                }
            )
            continue
        ig = page.get("instagram_business_account") or {}
        if ig.get("id"):
            label = f"@{ig.get('username') or ig['id']} ({page.get('name') or page['id']})"
            found.append({"id": str(ig["id"]), "label": label, "token": str(page["access_token"])})
    return found
