"""Session tokens a connector keeps between jobs (Bluesky's access and refresh JWTs): in
Redis, encrypted like every stored secret, per channel, so a job does not log in each time."""

from __future__ import annotations

import uuid

from agency import crypto

TTL_SECONDS = 7 * 24 * 3600


class MemorySessionStore:
    """The default when no store is given (a connector used outside a job)."""

    def __init__(self) -> None:
        self._value: dict | None = None

    def get(self) -> dict | None:
        return self._value

    def set(self, value: dict) -> None:
        self._value = dict(value)

    def clear(self) -> None:
        self._value = None


class RedisSessionStore:
    def __init__(self, channel_id: uuid.UUID) -> None:
        self.key = f"regia:connector-session:{channel_id}"

    def _redis(self):  # noqa: ANN202
        from agency.jobs import redis_client

        return redis_client()

    def get(self) -> dict | None:
        raw = self._redis().get(self.key)
        if not raw:
            return None
        try:
            return crypto.decrypt_json(raw.decode())
        except Exception:  # an old key rotated away, or junk: log in again
            return None

    def set(self, value: dict) -> None:
        self._redis().set(self.key, crypto.encrypt_json(value), ex=TTL_SECONDS)

    def clear(self) -> None:
        self._redis().delete(self.key)
