"""The one outbound HTTP client: every call to a network, Stripe or a webhook goes through here.

It sets timeouts and ``User-Agent: Regia/<version>`` and guards against server-side request
forgery: every connection resolves the host itself, refuses loopback, private, link-local,
multicast, reserved and cloud-metadata addresses (the rules: ``agency.outbound_guard``) and
connects to the address it checked, so DNS rebinding cannot swap it afterwards. Redirects are
followed hop by hop, each hop through the same guard. ``REGIA_ALLOW_PRIVATE_HOSTS`` lifts the
guard (tests with loopback fakes). What its results mean for a retry: ``agency.outbound_retry``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from agency import outbound_guard

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_REDIRECTS = 5


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("regia")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0"


USER_AGENT = f"Regia/{_version()}"


class OutboundError(Exception):
    """An outbound request was not made or could not be completed; permanent, never retried."""


class DestinationRefused(OutboundError):
    """The private-address guard refused the destination (or its scheme, or a redirect)."""


class HostUnresolvable(httpcore.ConnectError):
    """The server name does not resolve (a typo, or a domain that does not exist)."""

    def __init__(self, host: str, detail: object) -> None:
        super().__init__(f"cannot resolve {host}: {detail}")
        self.host = host


class TooManyRedirects(OutboundError):
    pass


# --- connecting: resolve, check against the guard, connect to the address checked ----------


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests monkeypatch this to fake DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


LOOPBACK_ONLY = "REGIA_OUTBOUND_LOOPBACK_ONLY"


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    ip = outbound_guard.literal_ip(host)
    return ip is not None and ip.is_loopback


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves, checks and connects to the checked address (TLS still verifies the name)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if not self.allow_private and outbound_guard.is_forbidden_host(host):
            raise DestinationRefused(f"{host} is a private or loopback address")
        if os.environ.get(LOOPBACK_ONLY) and not _is_loopback_name(host):
            # The test suite's switch: no test may reach the internet, not even a DNS server.
            raise httpcore.ConnectError(f"{host}: only loopback is reachable ({LOOPBACK_ONLY})")
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            raise HostUnresolvable(host, exc) from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        if not self.allow_private:
            for address in addresses:
                if outbound_guard.is_forbidden_address(
                    ipaddress.ip_address(address.split("%", 1)[0])
                ):
                    # Any private answer refuses the host: it may be rebinding between lookups.
                    raise DestinationRefused(f"{host} resolves to a private address")
        error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error


_tls: list[ssl.SSLContext] = []


def tls_context() -> ssl.SSLContext:
    """The process's TLS context (certifi's CAs), built once and inherited by forked children:
    loading the CA bundle costs 20-30 ms, which each client (each publish job) used to pay."""
    if not _tls:
        _tls.append(httpx.create_ssl_context(trust_env=False))
    return _tls[0]


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool, verify: ssl.SSLContext | None = None) -> None:
        context = verify or tls_context()
        super().__init__(verify=context, trust_env=False)
        # The same pool httpx builds, with the guarded backend (no proxies: they resolve names
        # themselves, past the guard).
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=_GuardedBackend(allow_private)
        )


# --- the client -------------------------------------------------------------------------------


class OutboundClient:
    """``httpx``-like client with the guard, timeouts, user agent and hop-by-hop redirects.

    Redirects are followed for GET and HEAD only, unless ``follow_redirects`` says otherwise:
    re-sending a body (and its signature) to another host is the caller's decision.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_redirects: int = MAX_REDIRECTS,
        headers: dict[str, str] | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """``verify``: the TLS context (trusted CAs); default: certifi's CA bundle."""
        self.allow_private = allow_private
        self.max_redirects = max_redirects
        self._http = httpx.Client(
            transport=_GuardedTransport(allow_private, verify),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            follow_redirects=False,
            trust_env=False,
            # A worker's client serves every agency's jobs: keep no cookie a host sets, or
            # one tenant's session cookie would go out with another tenant's next request.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _check(self, url: httpx.URL) -> None:
        problem = outbound_guard.url_problem(str(url), allow_private=self.allow_private)
        if problem is not None:
            raise DestinationRefused(f"refused destination {url.host!r}: {problem.value}")

    def request(
        self, method: str, url: str, *, follow_redirects: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send a request (``httpx.Client.request`` arguments); raises DestinationRefused,
        TooManyRedirects or ``httpx.HTTPError``."""
        method = method.upper()
        follow = method in ("GET", "HEAD") if follow_redirects is None else follow_redirects
        request = self._http.build_request(method, url, **kwargs)
        for _hop in range(self.max_redirects + 1):
            self._check(request.url)
            response = self._http.send(request)
            if not (follow and response.next_request is not None):
                return response
            response.close()
            request = response.next_request
        raise TooManyRedirects(f"more than {self.max_redirects} redirects from {url}")

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def client(**kwargs: Any) -> OutboundClient:
    """A client configured from the current app's settings (``REGIA_ALLOW_PRIVATE_HOSTS``)."""
    from flask import current_app

    kwargs.setdefault("allow_private", current_app.config["REGIA"].allow_private_hosts)
    return OutboundClient(**kwargs)


_shared: dict[tuple[int, bool], OutboundClient] = {}


def shared_client() -> OutboundClient:
    """This process's long-lived client (per ``REGIA_ALLOW_PRIVATE_HOSTS`` value): its pool
    keeps connections to a network alive from one job to the next. Never close it."""
    from flask import current_app

    allow_private = bool(current_app.config["REGIA"].allow_private_hosts)
    key = (os.getpid(), allow_private)  # a forked child builds its own: sockets are not shared
    found = _shared.get(key)
    if found is None:
        found = _shared[key] = OutboundClient(allow_private=allow_private)
    return found


def json_object(response: httpx.Response) -> dict:
    """The response's JSON object, or ``{}`` when the body is not JSON or not an object
    (networks answer errors in HTML or plain text too)."""
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
