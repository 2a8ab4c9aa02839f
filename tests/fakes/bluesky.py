"""A loopback Bluesky PDS: XRPC sessions (create/refresh, expiring access tokens), records
(create with a caller's rkey, get), blobs, handle resolution and notifications. Shapes follow
the lexicons (com.atproto.server.*, com.atproto.repo.*, app.bsky.notification.*); errors are
``{"error": <Name>, "message": ...}``."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.fakes.base import FakeService, Request, route

HANDLE = "bella.bsky.example"
PASSWORD = "abcd-efgh-ijkl-mnop"
DID = "did:plc:bellavista000000000000"


def _cid(value: Any) -> str:
    return "bafyrei" + hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:52]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeBluesky(FakeService):
    def __init__(self, handle: str = HANDLE, password: str = PASSWORD) -> None:
        super().__init__()
        self.handle, self.password, self.did = handle, password, DID
        self.records: dict[str, dict] = {}  # at-uri -> {"uri", "cid", "value"}
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.blobs: dict[str, bytes] = {}
        self.notifications: list[dict] = []
        self.known_handles = {handle: DID, "friend.bsky.example": "did:plc:friend0000000000000000"}
        self._seq = itertools.count(1)

    # -- sessions --------------------------------------------------------------------------
    def _session(self) -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "did": self.did, "handle": self.handle, "accessJwt": access,
            "refreshJwt": refresh, "active": True,
        }  # fmt: skip

    def expire_access_tokens(self) -> None:
        """Every access token stops working (as after their two hours); refresh still works."""
        with self.lock:
            self.access_tokens.clear()

    def revoke_everything(self, new_password: str = "revoked-0000") -> None:
        with self.lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()
            self.password = new_password

    @route("POST", "/xrpc/com.atproto.server.createSession")
    def create_session(self, request: Request):  # noqa: ANN201
        body = request.json() or {}
        if not body.get("identifier") or not body.get("password"):
            return 400, {
                "error": "InvalidRequest",
                "message": 'Input must have the property "identifier"',
            }
        if body["identifier"] not in (self.handle, self.did) or body["password"] != self.password:
            return 401, {
                "error": "AuthenticationRequired",
                "message": "Invalid identifier or password",
            }
        return 200, self._session()

    @route("POST", "/xrpc/com.atproto.server.refreshSession")
    def refresh_session(self, request: Request):  # noqa: ANN201
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        with self.lock:
            if token not in self.refresh_tokens:
                return 400, {"error": "ExpiredToken", "message": "Token has expired"}
            self.refresh_tokens.discard(token)
        return 200, self._session()

    def _authorized(self, request: Request) -> tuple[int, Any] | None:
        header = request.header("authorization") or ""
        if not header.startswith("Bearer "):
            return 401, {"error": "AuthenticationRequired", "message": "Authentication Required"}
        if header.removeprefix("Bearer ") not in self.access_tokens:
            return 400, {"error": "ExpiredToken", "message": "Token has expired"}
        return None

    # -- records ---------------------------------------------------------------------------
    @route("POST", "/xrpc/com.atproto.repo.createRecord")
    def create_record(self, request: Request):  # noqa: ANN201
        refused = self._authorized(request)
        if refused:
            return refused
        body = request.json() or {}
        record = body.get("record") or {}
        if body.get("repo") not in (self.did, self.handle):
            return 400, {"error": "InvalidRequest", "message": "Invalid repo"}
        if body.get("collection") != "app.bsky.feed.post" or record.get("$type") != body.get(
            "collection"
        ):
            return 400, {"error": "InvalidRequest", "message": "Invalid collection"}
        if not isinstance(record.get("text"), str) or not record.get("createdAt"):
            return 400, {"error": "InvalidRequest", "message": "Record/text must be a string"}
        if len(record["text"]) > 300:
            return 400, {
                "error": "InvalidRequest",
                "message": "Record/text must not be longer than 300 graphemes",
            }
        for facet in record.get("facets", []):
            span = facet["index"]
            if not 0 <= span["byteStart"] < span["byteEnd"] <= len(record["text"].encode()):
                return 400, {"error": "InvalidRequest", "message": "Invalid facet index"}
        rkey = body.get("rkey") or f"3k{next(self._seq):011d}"
        uri = f"at://{self.did}/app.bsky.feed.post/{rkey}"
        with self.lock:
            if uri in self.records:
                return 400, {"error": "InvalidRequest", "message": f"Record already exists: {uri}"}
            cid = _cid(record)
            self.records[uri] = {"uri": uri, "cid": cid, "value": record}
        return 200, {"uri": uri, "cid": cid, "validationStatus": "valid"}

    @route("GET", "/xrpc/com.atproto.repo.getRecord")
    def get_record(self, request: Request):  # noqa: ANN201
        repo, collection, rkey = (request.arg(k) for k in ("repo", "collection", "rkey"))
        uri = f"at://{repo}/{collection}/{rkey}"
        found = self.records.get(uri)
        if found is None:
            return 400, {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}
        return 200, found

    @route("POST", "/xrpc/com.atproto.repo.uploadBlob")
    def upload_blob(self, request: Request):  # noqa: ANN201
        refused = self._authorized(request)
        if refused:
            return refused
        cid = _cid(request.body.hex())
        self.blobs[cid] = request.body
        blob = {"$type": "blob", "ref": {"$link": cid},
                "mimeType": request.header("content-type"), "size": len(request.body)}  # fmt: skip
        return 200, {"blob": blob}

    @route("GET", "/xrpc/com.atproto.identity.resolveHandle")
    def resolve_handle(self, request: Request):  # noqa: ANN201
        did = self.known_handles.get(request.arg("handle") or "")
        if did is None:
            return 400, {"error": "InvalidRequest", "message": "Unable to resolve handle"}
        return 200, {"did": did}

    # -- notifications ---------------------------------------------------------------------
    def add_reply(self, text: str, parent_uri: str | None = None, *, reason: str = "reply") -> dict:
        """Someone answers one of our posts (or mentions us): their record and a notification."""
        author_did = "did:plc:fan00000000000000000000"
        uri = f"at://{author_did}/app.bsky.feed.post/3fan{next(self._seq):09d}"
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": _now()}
        if parent_uri:
            parent = self.records[parent_uri]
            parent_ref = {"uri": parent_uri, "cid": parent["cid"]}
            root = (parent["value"].get("reply") or {}).get("root") or parent_ref
            record["reply"] = {"root": root, "parent": parent_ref}
        cid = _cid(record)
        with self.lock:
            self.records[uri] = {"uri": uri, "cid": cid, "value": record}
            note = {
                "uri": uri, "cid": cid, "reason": reason, "record": record, "isRead": False,
                "indexedAt": _now(), "labels": [],
                "author": {"did": author_did, "handle": "fan.bsky.example", "displayName": "A Fan"},
            }  # fmt: skip
            self.notifications.insert(0, note)  # newest first
        return note

    @route("GET", "/xrpc/app.bsky.notification.listNotifications")
    def list_notifications(self, request: Request):  # noqa: ANN201
        refused = self._authorized(request)
        if refused:
            return refused
        limit = int(request.arg("limit", "50"))
        return 200, {"notifications": self.notifications[:limit], "seenAt": _now()}

    def posts(self) -> list[dict]:
        """Records of our own account (what "exactly one post" counts)."""
        return [r for uri, r in self.records.items() if uri.startswith(f"at://{self.did}/")]
