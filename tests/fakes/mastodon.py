"""A loopback Mastodon instance: statuses (with Idempotency-Key), media v2, verify_credentials,
mention notifications with ``min_id``. Shapes follow docs.joinmastodon.org (Status,
MediaAttachment, Account, Notification entities; errors ``{"error": ...}``)."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

from tests.fakes.base import FakeService, Request, route

TOKEN = "mastodon-test-token"


class FakeMastodon(FakeService):
    def __init__(self, token: str = TOKEN, *, media_processing_polls: int = 1) -> None:
        super().__init__()
        self.token = token
        self.statuses: list[dict] = []
        self.media: dict[str, dict] = {}
        self.notifications: list[dict] = []
        self._by_key: dict[str, dict] = {}
        self._ids = itertools.count(109_000_000_000_000_001)
        self._id_lock = threading.Lock()
        self.media_processing_polls = media_processing_polls
        self.account = {
            "id": "1", "username": "bella", "acct": "bella", "display_name": "Bella Vista",
            "avatar": "https://files.example/avatar.png", "url": "https://social.example/@bella",
        }  # fmt: skip

    def _next_id(self) -> str:
        with self._id_lock:
            return str(next(self._ids))

    def _authorized(self, request: Request) -> bool:
        return request.header("authorization") == f"Bearer {self.token}"

    @staticmethod
    def _unauthorized() -> tuple[int, Any]:
        return 401, {"error": "The access token is invalid"}

    # -- accounts --------------------------------------------------------------------------
    @route("GET", "/api/v1/accounts/verify_credentials")
    def verify_credentials(self, request: Request):  # noqa: ANN201
        if not self._authorized(request):
            return self._unauthorized()
        return 200, self.account

    # -- statuses --------------------------------------------------------------------------
    @route("POST", "/api/v1/statuses")
    def create_status(self, request: Request):  # noqa: ANN201
        if not self._authorized(request):
            return self._unauthorized()
        params = request.json() if "json" in (request.header("content-type") or "") else None
        if params is None:
            params = {k: v[0] if len(v) == 1 else v for k, v in request.form().items()}
        key = request.header("idempotency-key")
        with self.lock:
            if key and key in self._by_key:  # the same key answers the same status
                return 200, self._by_key[key]
            text = params.get("status") or ""
            media_ids = params.get("media_ids") or params.get("media_ids[]") or []
            if isinstance(media_ids, str):
                media_ids = [media_ids]
            if not text and not media_ids:
                return 422, {"error": "Validation failed: Text can't be blank"}
            if len(text) > 500:
                return 422, {"error": "Validation failed: Text character limit of 500 exceeded"}
            unknown = [m for m in media_ids if m not in self.media]
            if unknown:
                return 422, {"error": "Validation failed: Media attachments are invalid"}
            reply_to = params.get("in_reply_to_id")
            if reply_to and not any(
                s["id"] == reply_to for s in [*self.statuses, *self._mention_statuses()]
            ):
                return 404, {"error": "Record not found"}
            status_id = self._next_id()
            status = {
                "id": status_id,
                "uri": f"https://social.example/users/bella/statuses/{status_id}",
                "url": f"https://social.example/@bella/{status_id}",
                "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "content": f"<p>{text}</p>",
                "text": text,
                "visibility": params.get("visibility", "public"),
                "in_reply_to_id": reply_to,
                "media_attachments": [self.media[m] for m in media_ids],
                "account": self.account,
            }
            self.statuses.append(status)
            if key:
                self._by_key[key] = status
        return 200, status

    def _mention_statuses(self) -> list[dict]:
        return [n["status"] for n in self.notifications if n.get("status")]

    # -- media -----------------------------------------------------------------------------
    @route("POST", "/api/v2/media")
    def create_media(self, request: Request):  # noqa: ANN201
        if not self._authorized(request):
            return self._unauthorized()
        if b'name="file"' not in request.body:
            return 422, {"error": "Validation failed: File can't be blank"}
        media_id = self._next_id()
        attachment = {
            "id": media_id, "type": "image", "url": None,
            "preview_url": f"https://files.example/small/{media_id}.png",
            "description": None, "_polls_left": self.media_processing_polls,
        }  # fmt: skip
        with self.lock:
            self.media[media_id] = attachment
        if self.media_processing_polls:
            return 202, _public(attachment)
        attachment["url"] = f"https://files.example/original/{media_id}.png"
        return 200, _public(attachment)

    @route("GET", "/api/v1/media/{id}")
    def get_media(self, request: Request):  # noqa: ANN201
        if not self._authorized(request):
            return self._unauthorized()
        attachment = self.media.get(request.params["id"])
        if attachment is None:
            return 404, {"error": "Record not found"}
        with self.lock:
            if attachment["_polls_left"] > 0:
                attachment["_polls_left"] -= 1
                return 206, _public(attachment)
            attachment["url"] = f"https://files.example/original/{attachment['id']}.png"
        return 200, _public(attachment)

    # -- notifications ---------------------------------------------------------------------
    def add_mention(
        self, text: str, *, acct: str = "fan@other.example", reply_to: str | None = None
    ) -> dict:
        """Someone mentions the account: a status and its ``mention`` notification."""
        status_id, note_id = self._next_id(), self._next_id()
        account = {
            "id": "77",
            "username": acct.split("@")[0],
            "acct": acct,
            "display_name": "A Fan",
        }
        status = {
            "id": status_id, "url": f"https://other.example/@fan/{status_id}",
            "uri": f"https://other.example/users/fan/statuses/{status_id}",
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "content": f"<p><span class=\"h-card\">@bella</span> {text}</p>",
            "in_reply_to_id": reply_to, "account": account,
        }  # fmt: skip
        note = {
            "id": note_id, "type": "mention", "created_at": status["created_at"],
            "account": account, "status": status,
        }  # fmt: skip
        with self.lock:
            self.notifications.append(note)
        return note

    @route("GET", "/api/v1/notifications")
    def list_notifications(self, request: Request):  # noqa: ANN201
        if not self._authorized(request):
            return self._unauthorized()
        types = request.query.get("types[]") or []
        min_id = request.arg("min_id")
        limit = int(request.arg("limit", "40"))
        notes = [n for n in self.notifications if not types or n["type"] in types]
        if min_id:
            notes = [n for n in notes if int(n["id"]) > int(min_id)]
            notes = sorted(notes, key=lambda n: int(n["id"]))[:limit]  # just above min_id
        notes = sorted(notes, key=lambda n: int(n["id"]), reverse=True)[:limit]
        return 200, notes


def _public(attachment: dict) -> dict:
    return {k: v for k, v in attachment.items() if not k.startswith("_")}
