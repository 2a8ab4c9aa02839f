"""The consent side of an OAuth 2 authorization-code flow, as a mixin for the network fakes.

X (``GET https://x.com/i/oauth2/authorize``), LinkedIn (``GET /oauth/v2/authorization``) and
Facebook Login (``GET /{version}/dialog/oauth``) all show the person a consent page and then
redirect the browser to the registered ``redirect_uri`` with ``code`` and ``state`` (granted) or
``error``, ``error_description`` and ``state`` (refused). Each fake names its authorize path
(``authorize_path``, served under ``GET`` and ``POST`` by the fake's own ``@route``s calling
:meth:`consent_page` / :meth:`consent_decision`) and answers its own token endpoint with
:meth:`redeem`, which checks the client, the redirect URI, single use and PKCE.

``oauth_client_id``/``oauth_client_secret``: the app the operator registered;
``registered_redirects``: the redirect URIs registered with it (empty: accept any);
``denial``: the ``error`` and ``error_description`` the network sends when the person refuses.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from tests.fakes.base import Request


class OAuth2Consent:
    oauth_client_id = "regia-oauth-client"
    oauth_client_secret = "fake-app-secret-Zq8v"  # noqa: S105 - a test value
    authorize_path = "/oauth/authorize"
    denial = ("access_denied", "The user denied the request.")

    def _consent_state(self) -> dict[str, Any]:
        if not hasattr(self, "_consent"):
            self._consent: dict[str, Any] = {"codes": {}}
            self.registered_redirects: list[str] = getattr(self, "registered_redirects", [])
        return self._consent

    def _consent_problem(self, data: dict[str, str]) -> str | None:
        if data.get("client_id") != self.oauth_client_id:
            return "Invalid client_id"
        redirects = self._consent_state() and self.registered_redirects
        if redirects and data.get("redirect_uri") not in redirects:
            return "The redirect_uri does not match the registered value"
        if data.get("response_type") != "code":
            return "response_type must be code"
        if not data.get("state"):
            return "state is required"
        return None

    def consent_page(self, request: Request) -> tuple[int, Any, dict]:
        data = {k: v[0] for k, v in request.query.items()}
        problem = self._consent_problem(data)
        if problem:
            return 400, {"error": "invalid_request", "error_description": problem}, {}
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in data.items()
        )
        page = (
            "<!doctype html><html lang='en'><head><title>Authorize</title></head><body><main>"
            "<h1>Authorize app</h1><p>Regia would like to post on your behalf.</p>"
            f'<form method="post" action="{html.escape(request.path)}">{fields}'
            '<button type="submit" name="decision" value="approve">Authorize app</button>'
            '<button type="submit" name="decision" value="deny">Cancel</button>'
            "</form></main></body></html>"
        )
        return 200, page, {"Content-Type": "text/html; charset=utf-8"}

    def consent_decision(self, request: Request) -> tuple[int, Any, dict]:
        data = {k: v[0] for k, v in request.form().items()}
        problem = self._consent_problem(data)
        if problem:
            return 400, {"error": "invalid_request", "error_description": problem}, {}
        back = {"state": data["state"]}
        if data.get("decision") == "deny":
            back |= {"error": self.denial[0], "error_description": self.denial[1]}
        else:
            code = secrets.token_urlsafe(24)
            with self.lock:  # type: ignore[attr-defined]
                self._consent_state()["codes"][code] = {**data, "issued": time.time()}
            back["code"] = code
        return 302, "", {"Location": f"{data['redirect_uri']}?{urlencode(back)}"}

    def redeem(
        self,
        code: str,
        client_id: str | None,
        client_secret: str | None,
        redirect_uri: str | None,
        code_verifier: str | None = None,
    ) -> tuple[dict | None, str]:
        """The consent behind ``code`` (used once), or None and why it is refused."""
        if client_id != self.oauth_client_id or client_secret != self.oauth_client_secret:
            return None, "invalid_client"
        with self.lock:  # type: ignore[attr-defined]
            grant = self._consent_state()["codes"].pop(code or "", None)
        if grant is None or grant.get("redirect_uri") != redirect_uri:
            return None, "invalid_grant"
        if grant.get("code_challenge"):
            digest = hashlib.sha256((code_verifier or "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["code_challenge"]:
                return None, "invalid_grant"
        return grant, ""
