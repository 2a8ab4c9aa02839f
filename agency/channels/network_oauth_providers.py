"""What each network answers during ``network_oauth``'s sign-in: the code-for-token exchange
(X: ``POST /2/oauth2/token`` with HTTP Basic; LinkedIn: ``POST /oauth/v2/accessToken``;
Facebook: ``GET /oauth/access_token``, then the long-lived exchange) and the accounts the
token may post as (LinkedIn: the member and the organizations they administer; Facebook: the
person's Pages or their Instagram business accounts). A refusal or a transport failure is a
``ValidationFailed`` on ``code`` that names the network and its reason.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import httpx
from flask import current_app
from flask_babel import gettext as _

from agency import outbound
from agency.channels.models import Network
from agency.config import OAuthApp
from agency.errors import ValidationFailed
from agency.publishing.connectors.graph import GRAPH_VERSION
from agency.publishing.connectors.linkedin import LINKEDIN_VERSION

log = logging.getLogger(__name__)

NETWORK_NAMES = {"x": "X", "linkedin": "LinkedIn", "facebook": "Facebook"}
# LinkedIn roles that may post as the organization.
POSTING_ROLES = {"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER"}
MAX_CHOICES = 100  # one page of /me/accounts
MAX_REASON = 200


def redirect_uri(provider: str) -> str:
    return f"{current_app.config['REGIA'].base_url}/oauth/{provider}/callback"


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
    message = _(
        "%(network)s did not complete the sign-in: %(reason)s. Nothing was connected; try again.",
        network=NETWORK_NAMES[provider],
        reason=" ".join(reason.split())[:MAX_REASON],
    )
    return ValidationFailed({"code": [message]})


def _post_or_get(provider: str, send: Callable[[], httpx.Response]) -> dict[str, Any]:
    try:
        response = send()
    except Exception as exc:  # noqa: BLE001 - any transport failure is the same answer
        raise _refused(provider, exc) from exc
    body = outbound.json_object(response)
    if response.status_code != 200 or not body.get("access_token"):
        raise _refused(provider, response)
    return body


def token_x(
    http: outbound.OutboundClient, app: OAuthApp, code: str, code_verifier: str | None
) -> dict:
    pair = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri("x"),
        "code_verifier": code_verifier or "",
    }
    return _post_or_get(
        "x",
        lambda: http.post(
            f"{app.api_base}/2/oauth2/token", data=form, headers={"Authorization": f"Basic {pair}"}
        ),
    )


def token_linkedin(http: outbound.OutboundClient, app: OAuthApp, code: str) -> str:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": redirect_uri("linkedin"),
    }
    url = f"{app.authorize_base}/oauth/v2/accessToken"
    return str(_post_or_get("linkedin", lambda: http.post(url, data=form))["access_token"])


def token_facebook(http: outbound.OutboundClient, app: OAuthApp, code: str) -> str:
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


def linkedin_authors(http: outbound.OutboundClient, app: OAuthApp, token: str) -> list[dict]:
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


def facebook_accounts(
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
