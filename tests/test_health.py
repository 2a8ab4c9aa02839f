"""Liveness and readiness probes (DESIGN.md §9): /readyz names what is not ready, fast."""

from __future__ import annotations

import time

from tests import pg

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_DATABASE = pg.app_url("regia_nowhere").replace(f":{pg.PORT}/", ":1/")


def test_healthz_answers_ok_without_touching_backends(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_is_ready_when_database_and_redis_answer(client, database_url):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["status"] == "ready"
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_names_redis_when_redis_is_unreachable(app, make_app):
    broken = make_app(redis_url=UNREACHABLE_REDIS)
    started = time.monotonic()
    response = broken.test_client().get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response.json["failing"] == ["redis"]
    assert response.json["checks"]["database"] == "ok"
    assert response.json["checks"]["redis"].startswith("unavailable")


def test_readyz_names_database_when_database_is_unreachable(app, make_app):
    broken = make_app(database_url=UNREACHABLE_DATABASE)
    started = time.monotonic()
    response = broken.test_client().get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response.json["failing"] == ["database"]
    assert response.json["checks"]["redis"] == "ok"


def test_an_app_with_another_database_does_not_rebind_the_first(app, make_app, client):
    make_app(database_url=UNREACHABLE_DATABASE)
    # The first app still reaches its own database after a second app was built.
    assert client.get("/readyz").status_code == 200
