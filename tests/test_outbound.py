"""The outbound HTTP client: private-address guard (after DNS, pinned, per redirect hop),
user agent, and the retry policy. Fakes are real HTTP(S) servers on loopback."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agency import outbound, outbound_guard, outbound_retry
from agency.config import Settings
from agency.outbound import DestinationRefused, OutboundClient
from agency.outbound_retry import Outcome, RetryPolicy

LOOPBACK = ipaddress.ip_address("127.0.0.1")


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.seen.append(
            SimpleNamespace(method=self.command, path=self.path, headers=dict(self.headers))
        )
        parts = urlsplit(self.path)
        if parts.path == "/redirect":
            self.send_response(302)
            # Without ``to``, it redirects to itself: a loop.
            self.send_header("Location", parse_qs(parts.query).get("to", ["/redirect"])[0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"ok"
        if parts.path == "/set-cookie":  # a host that hands out a session cookie
            body = b"cookie"
            self.send_response(200)
            self.send_header("Set-Cookie", "session=agency-a-session-5c1; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if parts.path.startswith("/v1/customers"):  # enough of Stripe for one call
            body = b'{"id": "cus_fake", "object": "customer", "email": "a@example.com"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(autouse=True)
def _public_names_resolve_here(monkeypatch):
    """These tests fake DNS (public names resolve to loopback), so the suite's loopback-only
    switch is lifted for them; nothing here leaves the machine."""
    monkeypatch.delenv("REGIA_OUTBOUND_LOOPBACK_ONLY", raising=False)


def _serve(context: ssl.SSLContext | None = None) -> Iterator[SimpleNamespace]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.seen = []
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield SimpleNamespace(port=server.server_address[1], seen=server.seen)
    server.shutdown()
    server.server_close()


@pytest.fixture
def http_fake() -> Iterator[SimpleNamespace]:
    yield from _serve()


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> SimpleNamespace:
    """A test CA and a certificate for ``public.test`` it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def cert(subject: str, key, issuer: str, issuer_key, *, ca: bool):  # noqa: ANN001, ANN202
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.DNSName(subject)])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = cert("Regia test CA", ca_key, "Regia test CA", ca_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("public.test", leaf_key, "Regia test CA", ca_key, ca=False)
    folder = tmp_path_factory.mktemp("tls")
    (folder / "leaf.pem").write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "leaf.pem")
    trusted = ssl.create_default_context(
        cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return SimpleNamespace(server=server, client=trusted)


@pytest.fixture
def https_fake(tls) -> Iterator[SimpleNamespace]:
    yield from _serve(tls.server)


@pytest.fixture
def fake_dns(monkeypatch) -> dict[str, list[str]]:
    """Names answer from this table only: the system resolver must never be asked a name."""
    table: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: str, port: int) -> list[str]:
        table.setdefault("_asked", []).append(host)
        return list(table[host])

    def getaddrinfo(host, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if outbound_guard.literal_ip(str(host)) is None:
            raise AssertionError(f"the system resolver was asked for {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(outbound, "resolve", resolve)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
def loopback_is_public(monkeypatch) -> None:
    """Within one test, 127.0.0.1 plays "the public internet" so the guard can be seen to act
    on everything else, with the guard otherwise unchanged."""
    real = outbound_guard.is_forbidden_address
    monkeypatch.setattr(
        outbound_guard, "is_forbidden_address", lambda ip: ip != LOOPBACK and real(ip)
    )


# --- loopback fakes: refused by default, reachable when allowed -------------------------------


def test_loopback_fake_is_refused_without_the_setting_and_reached_with_it(http_fake, make_app):
    url = f"http://127.0.0.1:{http_fake.port}/ok"
    for allowed, app in ((False, make_app()), (True, make_app(allow_private_hosts=True))):
        with app.app_context(), outbound.client() as http:
            assert http.allow_private is allowed
            if not allowed:
                with pytest.raises(DestinationRefused):
                    http.get(url)
                assert http_fake.seen == []
            else:
                response = http.get(url)
                assert response.status_code == 200 and response.text == "ok"
    (request,) = http_fake.seen
    assert request.headers["User-Agent"] == outbound.USER_AGENT
    assert outbound.USER_AGENT.startswith("Regia/")


def test_the_client_keeps_no_cookie_between_requests(http_fake):
    """A worker's one client serves every agency's jobs: a cookie one host set for one
    tenant's request must not go out with the next request (another tenant's, maybe)."""
    base = f"http://127.0.0.1:{http_fake.port}"
    with OutboundClient(allow_private=True) as http:
        assert http.get(f"{base}/set-cookie").status_code == 200
        assert http.get(f"{base}/ok").status_code == 200
    first, second = http_fake.seen
    assert "Cookie" not in second.headers and "cookie" not in second.headers


def test_the_stripe_sdk_goes_through_the_same_guard(http_fake, make_app):
    import stripe

    from agency.outbound_stripe import stripe_http_client

    base = f"http://127.0.0.1:{http_fake.port}"
    for allowed in (False, True):
        with make_app(allow_private_hosts=allowed).app_context():
            sdk = stripe.StripeClient(
                "sk_test_fake",
                http_client=stripe_http_client(),
                base_addresses={"api": base},
                max_network_retries=0,
            )
            if not allowed:
                with pytest.raises(stripe.APIConnectionError):
                    sdk.v1.customers.create(params={"email": "a@example.com"})
                assert http_fake.seen == []
            else:
                customer = sdk.v1.customers.create(params={"email": "a@example.com"})
                assert customer.id == "cus_fake"
    (request,) = http_fake.seen
    assert (request.method, request.path) == ("POST", "/v1/customers")
    assert request.headers["Authorization"] == "Bearer sk_test_fake"


def test_allow_private_hosts_is_read_from_the_environment(tmp_path):
    base = {"REGIA_INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env(env=base).allow_private_hosts is False
    env = {**base, "REGIA_ALLOW_PRIVATE_HOSTS": "true"}
    assert Settings.from_env(env=env).allow_private_hosts is True


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "127.1", "localhost"],
)
def test_every_spelling_of_loopback_is_refused_even_over_https(http_fake, host):
    with OutboundClient() as http, pytest.raises(DestinationRefused):
        http.get(f"https://{host}:{http_fake.port}/ok")
    assert http_fake.seen == []


# --- names resolving to private addresses -----------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ["10.0.0.7"],
        ["192.168.1.20"],
        ["172.16.5.4"],
        ["100.64.0.9"],  # CGNAT
        ["169.254.169.254"],  # metadata
        ["fd00:ec2::254"],
        ["::ffff:169.254.169.254"],  # IPv4-mapped
        ["64:ff9b::a00:1"],  # NAT64 of 10.0.0.1
        ["fe80::1"],
        ["224.0.0.1"],
        ["0.0.0.0"],
        ["127.0.0.1"],
        ["93.184.215.14", "10.0.0.1"],  # one private answer is enough to refuse
    ],
)
def test_a_name_resolving_to_a_private_address_is_refused(fake_dns, monkeypatch, answer):
    fake_dns["hooks.example.com"] = answer
    connects = []
    monkeypatch.setattr(
        outbound.httpcore.SyncBackend, "connect_tcp", lambda *a, **k: connects.append(a)
    )
    with OutboundClient() as http, pytest.raises(DestinationRefused):
        http.post("https://hooks.example.com/T000/B000/XXXX", json={"text": "hi"})
    assert connects == []  # refused before any connection


def test_the_connection_goes_to_the_address_checked(fake_dns, loopback_is_public, https_fake, tls):
    # public.test resolves (once, by us) to 127.0.0.1; TLS still verifies the name public.test.
    fake_dns["public.test"] = ["127.0.0.1"]
    with OutboundClient(verify=tls.client) as http:
        response = http.get(f"https://public.test:{https_fake.port}/ok")
    assert response.status_code == 200
    assert fake_dns["_asked"] == ["public.test"]
    assert https_fake.seen[0].headers["Host"] == f"public.test:{https_fake.port}"


def test_a_rebinding_name_cannot_swap_the_address_after_the_check(
    fake_dns, loopback_is_public, https_fake, tls, monkeypatch
):
    # Every connection resolves once and connects to exactly that answer; a name that answers
    # privately on the next lookup is refused on that connection.
    fake_dns["public.test"] = ["127.0.0.1"]
    with OutboundClient(verify=tls.client) as http:
        assert http.get(f"https://public.test:{https_fake.port}/ok").status_code == 200
    fake_dns["public.test"] = ["10.0.0.1"]
    with OutboundClient(verify=tls.client) as http, pytest.raises(DestinationRefused):
        http.get(f"https://public.test:{https_fake.port}/ok")
    assert len(https_fake.seen) == 1


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://10.1.2.3/admin",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.1]/",
        "https://internal.test/",  # resolves to a private address
        "http://127.0.0.1:{port}/ok",  # loopback and a downgrade to http
    ],
)
def test_a_redirect_to_a_private_address_is_refused(
    fake_dns, loopback_is_public, https_fake, tls, target
):
    fake_dns["public.test"] = ["127.0.0.1"]
    fake_dns["internal.test"] = ["192.168.0.10"]
    to = target.format(port=https_fake.port)
    with OutboundClient(verify=tls.client) as http, pytest.raises(DestinationRefused):
        http.get(f"https://public.test:{https_fake.port}/redirect", params={"to": to})
    assert [r.path.split("?")[0] for r in https_fake.seen] == ["/redirect"]


def test_redirects_between_public_hosts_are_followed_for_get_only(
    fake_dns, loopback_is_public, https_fake, tls
):
    fake_dns["public.test"] = ["127.0.0.1"]
    base = f"https://public.test:{https_fake.port}"
    with OutboundClient(verify=tls.client) as http:
        followed = http.get(f"{base}/redirect", params={"to": f"{base}/ok"})
        posted = http.post(f"{base}/redirect", params={"to": f"{base}/ok"}, json={})
    assert followed.status_code == 200 and followed.text == "ok"
    assert posted.status_code == 302  # a body is never re-sent to another place silently
    assert [r.path.split("?")[0] for r in https_fake.seen] == ["/redirect", "/ok", "/redirect"]


def test_redirect_loops_stop(fake_dns, loopback_is_public, https_fake, tls):
    fake_dns["public.test"] = ["127.0.0.1"]
    loop = f"https://public.test:{https_fake.port}/redirect"
    with (
        OutboundClient(verify=tls.client, max_redirects=3) as http,
        pytest.raises(outbound.TooManyRedirects),
    ):
        http.get(loop)
    assert len(https_fake.seen) == 4


# --- the guard's rules, one address at a time --------------------------------------------------


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("8.8.8.8", False),
        ("2a00:1450:4001:80b::200e", False),
        ("::ffff:8.8.8.8", False),
        ("127.0.0.1", True),
        ("10.255.0.1", True),
        ("172.31.255.255", True),
        ("192.168.0.1", True),
        ("100.127.0.1", True),
        ("169.254.1.1", True),
        ("100.100.100.200", True),
        ("192.0.0.192", True),
        ("239.255.255.250", True),
        ("255.255.255.255", True),
        ("0.0.0.0", True),
        ("240.0.0.1", True),
        ("::", True),
        ("::1", True),
        ("fc00::1", True),
        ("fd00:ec2::254", True),
        ("fe80::1", True),
        ("ff02::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:192.168.0.1", True),
        ("64:ff9b::7f00:1", True),
        ("2002:a00:1::", True),  # 6to4 of 10.0.0.1
    ],
)
def test_forbidden_addresses(address, forbidden):
    assert outbound_guard.is_forbidden_address(ipaddress.ip_address(address)) is forbidden


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://mastodon.social", None),
        ("https://hooks.slack.com/services/T0/B0/X", None),
        ("http://mastodon.social", "scheme"),
        ("ftp://mastodon.social", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("https://user:pw@mastodon.social", "credentials"),
        ("https://:pw@mastodon.social", "credentials"),
        ("https://", "host"),
        ("https://mastodon.social:99999", "host"),
        ("https://127.0.0.1:6379", "private"),
        ("https://[::1]/", "private"),
        ("https://169.254.169.254/latest", "private"),
        ("https://metadata.google.internal/", "private"),
        ("https://api.localhost/", "private"),
        ("https://017700000001/", "private"),
    ],
)
def test_url_problem(url, problem):
    found = outbound_guard.url_problem(url, allow_private=False)
    assert (found.value if found else None) == problem


def test_url_problem_with_private_hosts_allowed_still_refuses_credentials_and_odd_schemes():
    assert outbound_guard.url_problem("http://127.0.0.1:8080", allow_private=True) is None
    assert outbound_guard.url_problem("https://u:p@127.0.0.1", allow_private=True) == "credentials"
    assert outbound_guard.url_problem("gopher://127.0.0.1", allow_private=True) == "scheme"


# --- retry policy ----------------------------------------------------------------------------


def _response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers)


@pytest.mark.parametrize(
    ("result", "idempotent", "outcome"),
    [
        (_response(201), False, Outcome.SUCCESS),
        (_response(429), False, Outcome.RETRY),
        (_response(401), False, Outcome.AUTH),
        (_response(422), False, Outcome.PERMANENT),
        (_response(503), False, Outcome.UNKNOWN),
        (_response(503), True, Outcome.RETRY),
        (httpx.ConnectError("refused"), False, Outcome.RETRY),
        (httpx.ReadTimeout("slow"), False, Outcome.UNKNOWN),
        (httpx.ReadTimeout("slow"), True, Outcome.RETRY),
        (DestinationRefused("private"), False, Outcome.PERMANENT),
    ],
)
def test_classify(result, idempotent, outcome):
    assert outbound_retry.classify(result, idempotent=idempotent) is outcome


def test_retry_policy_backs_off_exponentially_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(max_attempts=4, base_seconds=10, cap_seconds=60)
    rng = Random(7)
    delays = [policy.delay(n, rng=rng) for n in (1, 2, 3, 4, 5)]
    for delay, ceiling in zip(delays, (10, 20, 40, 60, 60), strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(1, hint=45, rng=rng) == 45
    assert policy.should_retry(Outcome.RETRY, 3) and not policy.should_retry(Outcome.RETRY, 4)
    assert not policy.should_retry(Outcome.UNKNOWN, 1)
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert outbound_retry.retry_after(_response(429, **{"Retry-After": "120"})) == 120
    dated = _response(503, **{"Retry-After": format_datetime(now + timedelta(seconds=30), True)})
    assert outbound_retry.retry_after(dated, now=now) == 30
    assert outbound_retry.retry_after(_response(503)) is None


def test_the_suite_reaches_no_host_but_loopback(monkeypatch):
    """tests/conftest.py sets REGIA_OUTBOUND_LOOPBACK_ONLY: a public host is refused before DNS."""
    monkeypatch.setenv("REGIA_OUTBOUND_LOOPBACK_ONLY", "1")
    import httpx

    from agency import outbound

    looked_up: list[str] = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: looked_up.append(host) or [])
    with outbound.OutboundClient(allow_private=True) as http, pytest.raises(httpx.ConnectError):
        http.get("https://mastodon.social/api/v1/instance")
    assert looked_up == []
