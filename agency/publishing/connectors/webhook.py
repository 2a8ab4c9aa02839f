"""Generic signed webhook (Standard Webhooks, https://www.standardwebhooks.com).

Each post is one JSON event POSTed to the channel's URL with the three headers of the spec:
``webhook-id`` (the target's idempotency key, so a re-delivery carries the same id and the
receiver can drop the duplicate), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the
``whsec_`` secret, base64-decoded).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from agency import outbound, outbound_retry
from agency.publishing.connectors.base import (
    AccountInfo,
    Connector,
    ErrorClass,
    InboundItem,
    Outgoing,
    Published,
    PublishError,
    register,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not one
EVENT_POST = "post.published"
EVENT_REPLY = "reply.published"
MAX_MESSAGE = 500


def signing_key(secret: str) -> bytes:
    """The HMAC key: the base64 part of ``whsec_…``; a secret that is not base64 is used as is."""
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(raw, validate=True) if raw else secret.encode()
    except (binascii.Error, ValueError):
        return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, msg_id: str, body: bytes, now: int | None = None) -> dict:
    timestamp = int(time.time()) if now is None else now
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "Content-Type": "application/json",
    }


@register
class WebhookConnector(Connector):
    network = "webhook"
    label = "The webhook"
    supports_inbound = False

    def verify(self) -> AccountInfo:
        """Nothing to ask the receiver (it verifies us): check what is configured, locally.

        No handle: the URL is itself a credential, never shown (not even its host).
        """
        url, secret = self.settings.get("url", ""), self.settings.get("secret", "")
        if not url or not secret or not urlsplit(url).hostname:
            raise PublishError(ErrorClass.PERMANENT, "The webhook URL and secret are required.")
        return AccountInfo(handle="")

    def publish(self, outgoing: Outgoing) -> Published:
        return self._deliver(EVENT_POST, outgoing)

    def publish_reply(self, outgoing: Outgoing) -> Published:
        return self._deliver(EVENT_REPLY, outgoing)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        """Re-deliver with the same ``webhook-id``: the spec's receivers treat it as one event."""
        return self.publish_reply(outgoing) if outgoing.reply_to else self.publish(outgoing)

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        return [], cursor

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        outcome = outbound_retry.classify(result)
        if isinstance(result, BaseException):
            message = f"The webhook could not be reached: {result}"
        else:
            message = f"The webhook answered {result.status_code}: {_text(result)}".rstrip(": ")
        if outcome is outbound_retry.Outcome.RETRY:
            hint = None if isinstance(result, BaseException) else outbound_retry.retry_after(result)
            return PublishError(ErrorClass.RETRYABLE, message, retry_after=hint)
        if outcome is outbound_retry.Outcome.UNKNOWN:
            return PublishError(ErrorClass.UNKNOWN_OUTCOME, message)
        if outcome is outbound_retry.Outcome.AUTH:
            return PublishError(ErrorClass.AUTH_EXPIRED, message)
        return PublishError(ErrorClass.PERMANENT, message)

    def _payload(self, event: str, outgoing: Outgoing) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target_id": outgoing.target_id,
            "text": outgoing.text,
            "media": [
                {"content_type": m.content_type, "alt_text": m.alt_text, "name": m.path.name}
                for m in outgoing.media
            ],
        }
        if outgoing.reply_to:
            data["in_reply_to"] = outgoing.reply_to
        return {"type": event, "timestamp": datetime.now(UTC).isoformat(), "data": data}

    def _deliver(self, event: str, outgoing: Outgoing) -> Published:
        body = json.dumps(self._payload(event, outgoing), separators=(",", ":")).encode()
        headers = signed_headers(self.settings["secret"], outgoing.idempotency_key, body)
        try:
            response = self.http.post(self.settings["url"], content=body, headers=headers)
        except Exception as exc:  # transport errors and the guard's refusals
            raise self.classify(exc) from exc
        if not 200 <= response.status_code < 300:
            raise self.classify(response)
        answer = outbound.json_object(response)
        external_id = str(answer.get("id") or outgoing.idempotency_key)
        url = answer.get("url")
        return Published(external_id, url if isinstance(url, str) and url else None)


def _text(response: httpx.Response) -> str:
    return " ".join(response.text.split())[:MAX_MESSAGE]
