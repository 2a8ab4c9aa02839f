"""Meta Graph API plumbing shared by the Facebook Page and Instagram connectors.

Graph errors are classified by ``error.code`` / ``error_subcode`` in the JSON body, not by the
HTTP status (most errors come back as 400 whatever they mean), following "Handling Errors"
(developers.facebook.com/docs/graph-api/guides/error-handling) and the Instagram error codes:
190/102 and OAuthException without a code → AUTH_EXPIRED; 4/17/32/613/341 and the Pages
business-use-case limits (80001…) → RETRYABLE, waiting ``estimated_time_to_regain_access``
from ``X-Business-Use-Case-Usage`` when given; 1/2, negative (Instagram server) codes and
``is_transient`` → RETRYABLE; everything else (100, 10, 200-299, 368, 506 …) → PERMANENT with
Graph's own message. Requests are authenticated with the ``Authorization: Bearer`` header so
the token never lands in a URL or a log line.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from agency import outbound_retry
from agency.publishing.connectors import support
from agency.publishing.connectors.base import Connector, ErrorClass, PublishError

DEFAULT_GRAPH = "https://graph.facebook.com"
GRAPH_VERSION = "v23.0"
AUTH_CODES = {102, 190}
THROTTLE_CODES = {4, 17, 32, 341, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80014}
TRANSIENT_CODES = {1, 2, -1, -2}
DUPLICATE_POST = 506
# "You reached maximum number of posts that is allowed to be published by Content Publishing
# API" (24-hour moving window): retry in an hour rather than fail the post.
PUBLISHING_LIMIT = (9, 2207042)
# Instagram subcodes whose documented remedy is "wait" or "make a new container and retry":
# media not ready yet, container expired, container creation failed, unknown upload error.
RETRY_SUBCODES = {2207027, 2207020, 2207032, 2207053}


def graph_error(body: Any) -> dict[str, Any] | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def error_message(error: dict[str, Any]) -> str:
    message = str(error.get("error_user_msg") or error.get("message") or "Graph API error")
    code = error.get("code")
    return message if code is None or f"#{code}" in message else f"{message} (#{code})"


def regain_seconds(response: httpx.Response) -> float | None:
    """Seconds until the Page's business-use-case quota comes back, when Graph says so."""
    for header in ("x-business-use-case-usage", "x-app-usage", "x-ad-account-usage"):
        raw = response.headers.get(header)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        minutes = [
            entry.get("estimated_time_to_regain_access", 0)
            for entries in (usage.values() if isinstance(usage, dict) else [])
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict)
        ]
        if minutes and max(minutes) > 0:
            return float(max(minutes)) * 60
    return None


def classify(response: httpx.Response | BaseException) -> PublishError:
    if isinstance(response, BaseException):
        return support.transport_error(response)
    error = graph_error(support.json_body(response))
    if error is None:  # not Graph speaking (a proxy, a 5xx page): fall back on the status
        message = f"Graph API answered HTTP {response.status_code}"
        wait = outbound_retry.retry_after(response)
        return PublishError(support.status_class(response), message, retry_after=wait)
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = error_message(error)
    if code in AUTH_CODES or (code is None and error.get("type") == "OAuthException"):
        return PublishError(ErrorClass.AUTH_EXPIRED, message)
    if code in THROTTLE_CODES:
        wait = regain_seconds(response) or outbound_retry.retry_after(response)
        return PublishError(ErrorClass.RETRYABLE, message, retry_after=wait)
    if (code, subcode) == PUBLISHING_LIMIT:
        return PublishError(ErrorClass.RETRYABLE, message, retry_after=3600.0)
    transient = code in TRANSIENT_CODES or subcode in RETRY_SUBCODES
    if transient or error.get("is_transient") is True:
        return PublishError(ErrorClass.RETRYABLE, message)
    if response.status_code >= 500 and not support.is_read(response):
        return PublishError(ErrorClass.UNKNOWN_OUTCOME, message)
    return PublishError(ErrorClass.PERMANENT, message)


def error_code(error: PublishError) -> int | None:
    return getattr(error, "graph_code", None)


class GraphConnector(Connector):
    """Base of the two Graph connectors: versioned URLs, bearer auth, Graph classification."""

    token_setting = "access_token"  # noqa: S105 - the name of the setting, not a secret

    @property
    def graph(self) -> str:
        base = (self.settings.get("graph_base") or DEFAULT_GRAPH).rstrip("/")
        return f"{base}/{self.settings.get('graph_version') or GRAPH_VERSION}"

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.settings.get(self.token_setting, '')}"}
        try:
            response = self.http.request(method, f"{self.graph}/{path}", headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise self.classify(exc) from exc
        body = support.json_body(response)
        if not response.is_success or graph_error(body) is not None:
            error = self.classify(response)
            error.graph_code = (graph_error(body) or {}).get("code")  # type: ignore[attr-defined]
            raise error
        return body if isinstance(body, dict) else {}

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        return classify(result)
