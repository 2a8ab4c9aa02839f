"""The Stripe SDK over Regia's outbound client (``agency.outbound``): same guard, user agent and
timeouts as every other outbound call. Use ``stripe.StripeClient(key, http_client=...)``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import httpx
import stripe

from agency import outbound, outbound_retry


class StripeHTTPClient(stripe.HTTPClient):
    """``stripe.HTTPClient`` that sends through an ``OutboundClient`` (synchronous only)."""

    name = "regia-outbound"

    def __init__(self, http: outbound.OutboundClient) -> None:
        super().__init__()
        self._http = http

    def request(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            response = self._http.request(
                method, url, headers=dict(headers), content=post_data, follow_redirects=False
            )
        except (outbound.OutboundError, httpx.HTTPError) as exc:
            self._raise_connection_error(exc)
        return response.content, response.status_code, response.headers

    def request_stream(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[Iterable[bytes], int, Mapping[str, str]]:
        content, status, response_headers = self.request(method, url, headers, post_data)
        return iter([content]), status, response_headers

    def _raise_connection_error(self, exc: Exception) -> NoReturn:
        # A refused destination never gets better; a connection error may (Stripe retries).
        retry = outbound_retry.classify(exc) is outbound_retry.Outcome.RETRY
        raise stripe.APIConnectionError(
            f"Could not reach Stripe ({type(exc).__name__}: {exc})", should_retry=retry
        ) from exc

    def close(self) -> None:
        self._http.close()


def stripe_http_client(**kwargs: Any) -> StripeHTTPClient:
    """For the current app's settings (``REGIA_ALLOW_PRIVATE_HOSTS`` for a loopback fake)."""
    return StripeHTTPClient(outbound.client(**kwargs))
