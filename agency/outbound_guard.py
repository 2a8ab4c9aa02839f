"""The private-address guard's rules: which hosts, addresses and URLs outbound calls may not
reach without ``REGIA_ALLOW_PRIVATE_HOSTS``.

Loopback, private, link-local, multicast, reserved and cloud-metadata addresses are refused,
IPv4-mapped, NAT64, 6to4 and Teredo forms and legacy numeric spellings included. No network
here: the client (``agency.outbound``) applies these rules to every address it resolves,
connects to, and is redirected to; channel settings apply ``url_problem`` when saved.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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
