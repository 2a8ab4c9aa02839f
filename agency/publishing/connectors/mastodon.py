"""Mastodon (REST API v1/v2), any instance: ``instance_url`` + ``access_token``.

- posts: ``POST /api/v1/statuses`` with ``Idempotency-Key`` (the server answers the same
  status to the same key for an hour), replies with ``in_reply_to_id``;
- media: ``POST /api/v2/media`` (200 ready, or 202 then ``GET /api/v1/media/:id`` until it
  has a ``url``); uploaded ids are checkpointed so a retry does not upload twice;
- who am I: ``GET /api/v1/accounts/verify_credentials``;
- inbound: ``GET /api/v1/notifications?types[]=mention&min_id=…``.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

import httpx

from agency import outbound_retry
from agency.publishing.connectors import support
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

# Mastodon keeps an Idempotency-Key for one hour; after that only a lookup could tell.
IDEMPOTENCY_WINDOW = timedelta(minutes=50)
MEDIA_POLL_SECONDS = 1.0
MEDIA_POLL_LIMIT = 30
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)


def plain_text(content: str) -> str:
    """A status's HTML ``content`` as text (paragraphs and breaks become newlines)."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content or ""))).strip()


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@register
class MastodonConnector(Connector):
    network = "mastodon"
    label = "Mastodon"

    @property
    def base(self) -> str:
        return self.settings.get("instance_url", "").rstrip("/")

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.get('access_token', '')}", **extra}

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self.http.request(method, f"{self.base}{path}", **kwargs)
        except Exception as exc:
            raise self.classify(exc) from exc
        if response.status_code >= 400:
            raise self.classify(response)
        return response

    # -- the interface -------------------------------------------------------------------
    def verify(self) -> AccountInfo:
        account = self._call(
            "GET", "/api/v1/accounts/verify_credentials", headers=self._headers()
        ).json()
        acct = account.get("acct") or account.get("username") or ""
        if "@" not in acct:  # a local account: its full address names the instance
            acct = f"{acct}@{httpx.URL(self.base).host}"
        return AccountInfo(
            handle=f"@{acct}",
            display_name=account.get("display_name") or "",
            avatar_url=account.get("avatar"),
        )

    def publish(self, outgoing: Outgoing) -> Published:
        return self._post_status(outgoing, in_reply_to=None)

    def publish_reply(self, outgoing: Outgoing) -> Published:
        if not outgoing.reply_to:
            raise PublishError(ErrorClass.PERMANENT, "A reply needs the status it answers.")
        return self._post_status(outgoing, in_reply_to=outgoing.reply_to)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        """Within the idempotency window the same key answers the status it created (and
        creates none); after it, nothing can tell, so refuse rather than post twice."""
        sent = outgoing.state.get("sent_at")
        if not sent:
            return None  # never sent: nothing to find
        if datetime.now(UTC) - datetime.fromisoformat(sent) > IDEMPOTENCY_WINDOW:
            raise PublishError(
                ErrorClass.PERMANENT,
                "Could not confirm whether the post went out; check the account before retrying.",
            )
        return self._post_status(outgoing, in_reply_to=outgoing.reply_to)

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        params: list[tuple[str, str]] = [("types[]", "mention"), ("limit", "40")]
        if cursor:
            params.append(("min_id", cursor))
        notes = self._call(
            "GET", "/api/v1/notifications", params=params, headers=self._headers()
        ).json()
        items = []
        for note in sorted(notes, key=lambda n: int(n["id"]) if n["id"].isdigit() else n["id"]):
            status = note.get("status")
            if note.get("type") != "mention" or not status:
                continue
            account = status.get("account") or note.get("account") or {}
            items.append(
                InboundItem(
                    external_id=str(status["id"]),
                    kind="mention",
                    author_name=account.get("display_name") or "",
                    author_handle=account.get("acct") or account.get("username") or "",
                    text=plain_text(status.get("content", "")),
                    received_at=_iso(status.get("created_at") or note["created_at"]),
                    url=status.get("url") or status.get("uri"),
                    parent_external_id=status.get("in_reply_to_id"),
                )
            )
        newest = max((n["id"] for n in notes), key=lambda i: (len(i), i), default=None)
        return items, newest or cursor

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        if isinstance(result, BaseException):
            if isinstance(result, PublishError):
                return result
            error = support.transport_error(result)  # a read sent again is safe: retryable
            return PublishError(error.error_class, f"{self.base}: {error.message}")
        message = _error_message(result)
        status = result.status_code
        if status == 429:
            return PublishError(ErrorClass.RETRYABLE, message, retry_after=_reset(result))
        if status == 401:
            return PublishError(ErrorClass.AUTH_EXPIRED, message)
        if status == 403 and "token" in message.lower():
            return PublishError(ErrorClass.AUTH_EXPIRED, message)
        if status in (408, 503, 502, 504) and result.request.method == "GET":
            return PublishError(ErrorClass.RETRYABLE, message)
        if status >= 500:
            # The Idempotency-Key makes re-asking safe; still reconcile first.
            return PublishError(ErrorClass.UNKNOWN_OUTCOME, message)
        return PublishError(ErrorClass.PERMANENT, message)

    # -- helpers -------------------------------------------------------------------------
    def _post_status(self, outgoing: Outgoing, *, in_reply_to: str | None) -> Published:
        media_ids = self._upload_media(outgoing)
        body: dict[str, object] = {"status": outgoing.text, "visibility": "public"}
        if media_ids:
            body["media_ids"] = media_ids
        if in_reply_to:
            body["in_reply_to_id"] = in_reply_to
        if "sent_at" not in outgoing.state:
            sent = datetime.now(UTC).isoformat()
            self.checkpoint("sent_at", sent)
            outgoing.state["sent_at"] = sent
        status = self._call(
            "POST", "/api/v1/statuses", json=body,
            headers=self._headers(**{"Idempotency-Key": outgoing.idempotency_key}),
        ).json()  # fmt: skip
        return Published(external_id=str(status["id"]), url=status.get("url") or status.get("uri"))

    def _upload_media(self, outgoing: Outgoing) -> list[str]:
        done = [i for i in outgoing.state.get("media_ids", "").split(",") if i]
        if len(done) == len(outgoing.media):
            return done
        ids = []
        for media in outgoing.media:
            with media.path.open("rb") as handle:
                response = self._call(
                    "POST", "/api/v2/media", headers=self._headers(),
                    files={"file": (media.path.name, handle, media.content_type)},
                    data={"description": media.alt_text} if media.alt_text else None,
                )  # fmt: skip
            attachment = response.json()
            if response.status_code == 202 or not attachment.get("url"):
                self._wait_processed(str(attachment["id"]))
            ids.append(str(attachment["id"]))
        self.checkpoint("media_ids", ",".join(ids))
        outgoing.state["media_ids"] = ",".join(ids)
        return ids

    def _wait_processed(self, media_id: str) -> None:
        for _ in range(MEDIA_POLL_LIMIT):
            response = self._call("GET", f"/api/v1/media/{media_id}", headers=self._headers())
            if response.status_code == 200 and response.json().get("url"):
                return
            time.sleep(MEDIA_POLL_SECONDS)
        raise PublishError(ErrorClass.RETRYABLE, f"Media {media_id} is still being processed.")


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        detail = body.get("error_description")
        return f"{body['error']}: {detail}" if detail else str(body["error"])
    return f"HTTP {response.status_code}"


def _reset(response: httpx.Response) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (an ISO 8601 time), else ``Retry-After``."""
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, (_iso(reset) - datetime.now(UTC)).total_seconds())
        except ValueError:
            pass
    return outbound_retry.retry_after(response)
