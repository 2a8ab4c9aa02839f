"""A Standard Webhooks receiver: verifies every delivery's signature and keeps what it accepted.

Like a real receiver it refuses (401) a missing or wrong ``webhook-signature``, a timestamp
outside the tolerance, and answers a re-delivery of a ``webhook-id`` it already accepted with
the same result without storing it twice (the spec's idempotency), so tests can assert
"exactly one post".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

from tests.fakes.base import FakeService, Request, route

TOLERANCE_SECONDS = 5 * 60


def expected_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    raw = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = secret.encode()
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FakeWebhookReceiver(FakeService):
    PATH = "/hooks/regia"

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.events: dict[str, dict[str, Any]] = {}  # webhook-id -> accepted event

    @property
    def endpoint(self) -> str:
        return self.url + self.PATH

    def refusal(self, request: Request) -> str | None:
        """Why the delivery is not authentic, or None (the spec's verification steps)."""
        msg_id = request.header("webhook-id")
        timestamp = request.header("webhook-timestamp")
        signatures = request.header("webhook-signature")
        if not (msg_id and timestamp and signatures):
            return "missing webhook headers"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return "timestamp outside tolerance"
        wanted = expected_signature(self.secret, msg_id, timestamp, request.body)
        for candidate in signatures.split(" "):
            version, _, value = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(value, wanted):
                return None
        return "no matching signature"

    @route("POST", PATH)
    def receive(self, request: Request) -> tuple[int, Any]:
        problem = self.refusal(request)
        if problem:
            return 401, {"error": problem}
        msg_id = request.header("webhook-id") or ""
        with self.lock:
            if msg_id not in self.events:
                self.events[msg_id] = request.json()
            position = list(self.events).index(msg_id) + 1
        return 200, {"id": f"evt-{position}", "url": f"{self.url}/posts/{position}"}
