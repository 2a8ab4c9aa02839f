"""Mastodon's OAuth side, as a mixin for the Mastodon fake (no server of its own).

Real shapes (mastodon/mastodon: ``Api::V1::AppsController``, Doorkeeper's ``/oauth/*``):

- ``POST /api/v1/apps`` (form or JSON: ``client_name``, ``redirect_uris``, ``scopes``,
  ``website``) → the Application entity with ``client_id`` and ``client_secret``;
- ``GET /.well-known/oauth-authorization-server`` → RFC 8414 metadata, with
  ``code_challenge_methods_supported: ["S256"]`` (Mastodon 4.3+; ``pkce = False`` plays an
  older server that has no such document);
- ``GET /oauth/authorize`` → the consent page; its "Authorize" button posts back and the
  server redirects to ``redirect_uri?code=…&state=…``;
- ``POST /oauth/token`` (``grant_type=authorization_code``, ``code``, ``client_id``,
  ``client_secret``, ``redirect_uri``, ``code_verifier`` when a challenge was given) →
  ``{access_token, token_type: "Bearer", scope, created_at}``;
- ``POST /oauth/revoke`` (``client_id``, ``client_secret``, ``token``) → ``{}``.

Issued tokens land in ``self.tokens`` (token → account id); a fake combining this mixin
checks ``Authorization: Bearer`` against it (``account_for``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from tests.fakes.base import Request, route


def _params(request: Request) -> dict[str, str]:
    if (request.header("content-type") or "").startswith("application/json"):
        data = request.json() or {}
        return {k: " ".join(v) if isinstance(v, list) else str(v) for k, v in data.items()}
    return {k: v[0] for k, v in request.form().items()}


def _oauth_error(error: str, description: str, status: int = 400) -> tuple[int, dict]:
    return status, {"error": error, "error_description": description}


class MastodonOAuthRoutes:
    """Mix into a ``FakeService``: ``class FakeMastodon(MastodonOAuthRoutes, FakeService)``."""

    pkce = True  # announce S256 (Mastodon 4.3+)
    account_id = "109000000000000001"  # who signs in on the consent page

    def _oauth_state(self) -> dict[str, Any]:
        if not hasattr(self, "_oauth"):
            self._oauth = {"apps": {}, "codes": {}}
            self.tokens: dict[str, str] = getattr(self, "tokens", {})
        return self._oauth

    # -- apps ----------------------------------------------------------------------------
    @route("POST", "/api/v1/apps")
    def create_app(self, request: Request) -> tuple[int, Any]:
        data = _params(request)
        missing = [k for k in ("client_name", "redirect_uris") if not data.get(k)]
        if missing:
            return 422, {"error": f"Validation failed: {', '.join(missing)} can't be blank"}
        app_id = str(len(self._oauth_state()["apps"]) + 1)
        app = {
            "id": app_id,
            "name": data["client_name"],
            "website": data.get("website") or None,
            "scopes": (data.get("scopes") or "read").split(),
            "redirect_uri": data["redirect_uris"],
            "redirect_uris": data["redirect_uris"].split(),
            "client_id": secrets.token_urlsafe(32),
            "client_secret": secrets.token_urlsafe(32),
            "client_secret_expires_at": 0,
            "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M=",  # noqa: E501
        }
        with self.lock:  # type: ignore[attr-defined]
            self._oauth_state()["apps"][app["client_id"]] = app
        return 200, app

    @route("GET", "/.well-known/oauth-authorization-server")
    def oauth_metadata(self, request: Request) -> tuple[int, Any]:
        if not self.pkce:
            return 404, {"error": "Record not found"}
        base = self.url  # type: ignore[attr-defined]
        return 200, {
            "issuer": base + "/",
            "authorization_endpoint": base + "/oauth/authorize",
            "token_endpoint": base + "/oauth/token",
            "revocation_endpoint": base + "/oauth/revoke",
            "scopes_supported": ["read", "write", "push", "profile"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "app_registration_endpoint": base + "/api/v1/apps",
        }

    # -- authorize -----------------------------------------------------------------------
    def _check_authorize(self, data: dict[str, str]) -> tuple[int, Any] | None:
        app = self._oauth_state()["apps"].get(data.get("client_id", ""))
        if app is None:
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        if data.get("redirect_uri") not in app["redirect_uris"]:
            return _oauth_error("invalid_redirect_uri", "The redirect uri included is not valid.")
        if data.get("response_type") != "code":
            return _oauth_error("unsupported_response_type", "response_type must be code")
        if not set((data.get("scope") or "read").split()) <= set(app["scopes"]):
            return _oauth_error("invalid_scope", "The requested scope is invalid.")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            return _oauth_error("invalid_request", "code_challenge_method must be S256")
        return None

    @route("GET", "/oauth/authorize")
    def authorize_page(self, request: Request) -> tuple[int, Any, dict]:
        data = {k: v[0] for k, v in request.query.items()}
        problem = self._check_authorize(data)
        if problem:
            return problem[0], problem[1], {}
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in data.items()
        )
        page = (
            "<!doctype html><html lang='en'><head><title>Authorize</title></head><body>"
            "<main><h1>Authorization required</h1>"
            f"<p>{html.escape(self._oauth_state()['apps'][data['client_id']]['name'])} "
            "would like to access your account.</p>"
            f'<form method="post" action="/oauth/authorize">{fields}'
            '<button type="submit" name="decision" value="approve">Authorize</button>'
            '<button type="submit" name="decision" value="deny">Deny</button>'
            "</form></main></body></html>"
        )
        return 200, page, {"Content-Type": "text/html; charset=utf-8"}

    @route("POST", "/oauth/authorize")
    def authorize_decision(self, request: Request) -> tuple[int, Any, dict]:
        data = _params(request)
        problem = self._check_authorize(data)
        if problem:
            return problem[0], problem[1], {}
        back: dict[str, str] = {"state": data["state"]} if data.get("state") else {}
        if data.get("decision") == "deny":
            back |= {"error": "access_denied", "error_description": "denied by the user"}
        else:
            code = secrets.token_urlsafe(24)
            with self.lock:  # type: ignore[attr-defined]
                self._oauth_state()["codes"][code] = {**data, "issued": time.time()}
            back["code"] = code
        return 302, "", {"Location": f"{data['redirect_uri']}?{urlencode(back)}"}

    # -- tokens --------------------------------------------------------------------------
    @route("POST", "/oauth/token")
    def token(self, request: Request) -> tuple[int, Any]:
        data = _params(request)
        state = self._oauth_state()
        app = state["apps"].get(data.get("client_id", ""))
        if app is None or app["client_secret"] != data.get("client_secret"):
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        if data.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "grant_type not supported")
        with self.lock:  # type: ignore[attr-defined]
            grant = state["codes"].pop(data.get("code", ""), None)  # a code works once
        if grant is None or grant["client_id"] != app["client_id"]:
            return _oauth_error("invalid_grant", "The provided authorization grant is invalid.")
        if grant["redirect_uri"] != data.get("redirect_uri"):
            return _oauth_error("invalid_grant", "The redirect uri does not match.")
        if grant.get("code_challenge"):
            verifier = data.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["code_challenge"]:
                return _oauth_error("invalid_grant", "The code verifier is invalid.")
        access_token = secrets.token_urlsafe(32)
        with self.lock:  # type: ignore[attr-defined]
            self.tokens[access_token] = self.account_id
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "scope": grant.get("scope") or "read",
            "created_at": int(time.time()),
        }

    @route("POST", "/oauth/revoke")
    def revoke_token(self, request: Request) -> tuple[int, Any]:
        data = _params(request)
        app = self._oauth_state()["apps"].get(data.get("client_id", ""))
        if app is None or app["client_secret"] != data.get("client_secret"):
            return _oauth_error("unauthorized_client", "You are not authorized to revoke.", 403)
        self.revoke(data.get("token", ""))
        return 200, {}

    def revoke(self, token: str) -> None:
        """The account owner revoked Regia's access (Preferences → Account → Authorized apps)."""
        with self.lock:  # type: ignore[attr-defined]
            self._oauth_state()
            self.tokens.pop(token, None)

    def account_for(self, request: Request) -> str | None:
        """The account id behind ``Authorization: Bearer …``, or None."""
        self._oauth_state()
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        return self.tokens.get(token) if scheme.lower() == "bearer" else None


# --- for channelconnect's own tests, until FakeMastodon (tests/fakes/mastodon.py) mixes in the
# routes above: the OAuth routes plus verify_credentials, and a connector that only verifies.

from tests.fakes.base import FakeService  # noqa: E402


class LocalMastodon(MastodonOAuthRoutes, FakeService):
    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        super().__init__()

    @route("GET", "/api/v1/accounts/verify_credentials")
    def verify_credentials(self, request: Request) -> tuple[int, Any]:
        account_id = self.account_for(request)
        if account_id is None:
            return 401, {"error": "The access token is invalid"}
        return 200, {
            "id": account_id,
            "username": "acme",
            "acct": "acme",
            "display_name": "Acme Coffee",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "url": f"{self.url}/@acme",
        }


def minimal_mastodon_connector() -> type:
    """A Mastodon connector that can only verify (the `publishing` engineer writes the real one)."""
    from urllib.parse import urlsplit

    from agency.publishing.connectors.base import (
        AccountInfo,
        Connector,
        ErrorClass,
        PublishError,
    )

    class MinimalMastodonConnector(Connector):
        network = "mastodon"

        def verify(self) -> AccountInfo:
            base = self.settings["instance_url"]
            response = self.http.get(
                f"{base}/api/v1/accounts/verify_credentials",
                headers={"Authorization": f"Bearer {self.settings['access_token']}"},
            )
            body = response.json()
            if response.status_code == 401:
                raise PublishError(ErrorClass.AUTH_EXPIRED, body.get("error", "401"))
            if response.status_code != 200:
                raise PublishError(ErrorClass.RETRYABLE, body.get("error", "error"))
            host = urlsplit(base).netloc
            return AccountInfo(f"@{body['acct']}@{host}", body["display_name"], body["avatar"])

    return MinimalMastodonConnector
