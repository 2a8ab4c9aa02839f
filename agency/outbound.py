"""The one outbound HTTP client: every call to a network, Stripe or a webhook goes through here.

It sets timeouts and ``User-Agent: Regia/<version>``, classifies results for the retry
policy, and guards against server-side request forgery: every connection resolves the host
itself, refuses loopback, private, link-local, multicast, reserved and cloud-metadata
addresses (IPv4-mapped and NAT64 forms included) and connects to the address it checked, so
DNS rebinding cannot swap it afterwards. Redirects are followed hop by hop, each hop through
the same guard. ``REGIA_ALLOW_PRIVATE_HOSTS`` lifts the guard (tests with loopback fakes).
"""

from __future__ import annotations

import enum
import ipaddress
import os
import random
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_REDIRECTS = 5
# Cloud metadata endpoints; most are also link-local or private, listed so intent is explicit.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata", "instance-data"})
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")


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


# --- the private-address guard ----------------------------------------------------------------


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for every address outbound calls must not reach without REGIA_ALLOW_PRIVATE_HOSTS."""
    inner = embedded_ipv4(ip)
    if inner is not None and is_forbidden_address(inner):
        return True
    if ip in METADATA_ADDRESSES or ip.is_multicast:
        return True
    # is_global is False for loopback, RFC 1918, CGNAT, ULA, link-local, unspecified, reserved,
    # documentation and benchmarking ranges.
    return not ip.is_global


def literal_ip(host: str) -> IPAddress | None:
    """The address ``host`` spells out literally, including the legacy IPv4 forms
    (``2130706433``, ``0x7f.1``, ``127.1``) that resolvers accept; None for a name."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_forbidden_host(host: str) -> bool:
    """A literal forbidden address, ``localhost`` or a metadata name: refused before any DNS."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost") or name in METADATA_HOSTNAMES:
        return True
    ip = literal_ip(name)
    return ip is not None and is_forbidden_address(ip)


class UrlProblem(enum.StrEnum):
    SCHEME = "scheme"  # not http(s), or http where https is required
    CREDENTIALS = "credentials"  # user:password@ in the URL
    HOST = "host"  # no host, or a malformed one
    PRIVATE = "private"  # a loopback/private/metadata host


def url_problem(url: str, *, allow_private: bool) -> UrlProblem | None:
    """Why ``url`` may not be used as an outbound destination, or None when it may.

    Names are only resolved when connecting (the guard runs again there).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return UrlProblem.HOST
    if parts.scheme not in ("http", "https") or any(c.isspace() for c in url):
        return UrlProblem.SCHEME
    if parts.username is not None or parts.password is not None:
        return UrlProblem.CREDENTIALS
    if not host:
        return UrlProblem.HOST
    if allow_private:
        return None
    if parts.scheme != "https":
        return UrlProblem.SCHEME
    if is_forbidden_host(host):
        return UrlProblem.PRIVATE
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests monkeypatch this to fake DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


LOOPBACK_ONLY = "REGIA_OUTBOUND_LOOPBACK_ONLY"


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    ip = literal_ip(host)
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
        if not self.allow_private and is_forbidden_host(host):
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
                if is_forbidden_address(ipaddress.ip_address(address.split("%", 1)[0])):
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
        problem = url_problem(str(url), allow_private=self.allow_private)
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


# --- retry policy -----------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    RETRY = "retry"  # not processed (connect failed, 429, 408): safe to send again later
    UNKNOWN = "unknown"  # may have been processed: reconcile (look it up), never blind re-send
    AUTH = "auth"  # credentials refused: the channel needs reconnecting
    PERMANENT = "permanent"  # will not succeed as is


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def classify(result: httpx.Response | BaseException, *, idempotent: bool = False) -> Outcome:
    """What to do after a response or an exception from ``OutboundClient.request``.

    A timeout or 5xx after the request was sent is UNKNOWN unless the request is idempotent
    (a GET, or a POST carrying an idempotency key the remote honours).
    """
    if isinstance(result, BaseException):
        if isinstance(result, OutboundError | httpx.InvalidURL | httpx.UnsupportedProtocol):
            return Outcome.PERMANENT
        if isinstance(result, _NOT_SENT):
            return Outcome.RETRY
        if isinstance(result, httpx.TransportError):
            return Outcome.RETRY if idempotent else Outcome.UNKNOWN
        return Outcome.PERMANENT
    status = result.status_code
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status in (408, 429):
        return Outcome.RETRY
    if status == 401:
        return Outcome.AUTH
    if status >= 500:
        return Outcome.RETRY if idempotent else Outcome.UNKNOWN
    return Outcome.PERMANENT


def json_object(response: httpx.Response) -> dict:
    """The response's JSON object, or ``{}`` when the body is not JSON or not an object
    (networks answer errors in HTML or plain text too)."""
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def retry_after(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds the remote asked us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, honouring ``Retry-After``."""

    max_attempts: int = 6
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def should_retry(self, outcome: Outcome, attempt: int) -> bool:
        """``attempt`` counts from 1 (the attempt that just failed)."""
        return outcome is Outcome.RETRY and attempt < self.max_attempts

    def delay(
        self, attempt: int, *, hint: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt ``attempt + 1``; at least ``hint`` (Retry-After)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        return min(self.cap_seconds, max(jittered, hint or 0.0))
