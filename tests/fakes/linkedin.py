"""A loopback LinkedIn versioned REST API: Posts, Images, Organizations, Comments.

Shapes follow learn.microsoft.com/linkedin: every ``/rest`` call must carry
``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``; ``POST /rest/posts``
answers 201 with an empty body and the URN in ``x-restli-id``; the same commentary twice is
``422`` with ``DUPLICATE_POST`` naming the existing post; lists are ``{"elements": [...],
"paging": {...}}``; errors ``{"status", "serviceErrorCode", "code", "message"}``. URNs in
paths and query strings arrive URL-encoded.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any
from urllib.parse import unquote

from tests.fakes.base import FakeService, Request, route

VERSION_RE = re.compile(r"^20\d{4}$")


def li_error(status: int, code: str, message: str, service_code: int = 0) -> tuple[int, dict]:
    return status, {
        "status": status,
        "serviceErrorCode": service_code,
        "code": code,
        "message": message,
    }


def _millis() -> int:
    return int(time.time() * 1000)


class FakeLinkedIn(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(7_200_000_000_000_000_001)
        self.tokens: dict[str, str] = {}  # token -> organization URN it may act for
        self.organizations: dict[str, dict] = {}
        self.posts: dict[str, dict] = {}
        self.images: dict[str, dict] = {}
        self.comments: dict[str, dict] = {}

    # -- set-up -------------------------------------------------------------------------------
    def add_organization(self, name: str, token: str) -> dict:
        org_id = str(next(self._ids))[-8:]
        org = {
            "id": int(org_id),
            "localizedName": name,
            "vanityName": name.lower(),
            "urn": f"urn:li:organization:{org_id}",
        }
        self.organizations[org_id] = org
        self.tokens[token] = org["urn"]
        return org

    def add_comment(
        self, on: str, text: str, *, actor: str = "urn:li:person:fan1", parent: str | None = None
    ) -> dict:
        with self.lock:
            return self._comment(on, text, actor, parent)

    def posts_by(self, org: dict) -> list[dict]:
        return [p for p in self.posts.values() if p["author"] == org["urn"]]

    # -- helpers ------------------------------------------------------------------------------
    def _guard(self, request: Request) -> tuple[str | None, tuple | None]:
        token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        if token not in self.tokens:
            return None, li_error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        if request.path.startswith("/rest/"):
            if not VERSION_RE.match(request.header("linkedin-version") or ""):
                return None, li_error(
                    400,
                    "VERSION_MISSING",
                    "A version must be present. "
                    "Please specify a version by adding the LinkedIn-Version "
                    "header.",
                )
            if request.header("x-restli-protocol-version") != "2.0.0":
                return None, li_error(400, "INVALID_PROTOCOL", "Rest.li protocol 2.0.0 required")
        return self.tokens[token], None

    def _comment(self, on: str, text: str, actor: str, parent: str | None) -> dict:
        comment_id = str(next(self._ids))
        thread = on if not on.startswith("urn:li:comment:") else self.comments[on]["object"]
        urn = f"urn:li:comment:({thread},{comment_id})"
        comment = {
            "id": comment_id,
            "commentUrn": urn,
            "$URN": urn,
            "actor": actor,
            "object": thread,
            "message": {"text": text, "attributes": []},
            "created": {"actor": actor, "time": _millis()},
            "lastModified": {"actor": actor, "time": _millis()},
        }
        if parent:
            comment["parentComment"] = parent
        self.comments[urn] = comment
        return comment

    def _shown_comment(self, comment: dict) -> dict:
        replies = [c for c in self.comments.values() if c.get("parentComment") == comment["$URN"]]
        summary = {"aggregatedTotalComments": len(replies), "totalFirstLevelComments": 0}
        return {**comment, "commentsSummary": summary}

    # -- routes -------------------------------------------------------------------------------
    @route("POST", "/rest/posts")
    def create_post(self, request: Request):
        org, refused = self._guard(request)
        if refused:
            return refused
        body = request.json() or {}
        if body.get("author") != org:
            return li_error(
                403, "ACCESS_DENIED", f"Not enough permissions to post as {body.get('author')}", 100
            )
        missing = [
            k
            for k in ("commentary", "visibility", "distribution", "lifecycleState")
            if k not in body
        ]
        if missing or body["lifecycleState"] != "PUBLISHED":
            return li_error(422, "UNPROCESSABLE_ENTITY", f"Missing or bad fields: {missing}")
        media = ((body.get("content") or {}).get("media") or {}).get("id")
        if media and self.images.get(media, {}).get("status") != "AVAILABLE":
            return li_error(422, "UNPROCESSABLE_ENTITY", f"Image {media} is not available")
        with self.lock:
            for post in self.posts_by({"urn": org}):
                if (post["commentary"], post.get("content")) == (
                    body["commentary"],
                    body.get("content"),
                ):
                    return 422, {
                        "errorDetailType": "com.linkedin.common.error.BadRequest",
                        "message": "com.linkedin.content.common.exception."
                        f"BadRequestResponseException: Content is a duplicate of "
                        f"{post['id']}",
                        "errorDetails": {
                            "inputErrors": [
                                {
                                    "description": "Duplicate post is detected",
                                    "input": {},
                                    "code": "DUPLICATE_POST",
                                }
                            ]
                        },
                        "status": 422,
                    }
            urn = f"urn:li:share:{next(self._ids)}"
            self.posts[urn] = {
                **body,
                "id": urn,
                "createdAt": _millis(),
                "lastModifiedAt": _millis(),
                "publishedAt": _millis(),
            }
        return 201, None, {"x-restli-id": urn, "x-linkedin-id": urn}

    @route("GET", "/rest/posts")
    def find_posts(self, request: Request):
        _org, refused = self._guard(request)
        if refused:
            return refused
        if request.arg("q") != "author":
            return li_error(400, "ILLEGAL_ARGUMENT", "Unsupported finder")
        author = unquote(request.arg("author") or "")
        count = int(request.arg("count") or 10)
        with self.lock:
            mine = [p for p in reversed(self.posts.values()) if p["author"] == author][:count]
        return 200, {"elements": mine, "paging": {"start": 0, "count": count, "links": []}}

    @route("POST", "/rest/images")
    def initialize_upload(self, request: Request):
        org, refused = self._guard(request)
        if refused:
            return refused
        if request.arg("action") != "initializeUpload":
            return li_error(400, "ILLEGAL_ARGUMENT", "Unknown action")
        owner = ((request.json() or {}).get("initializeUploadRequest") or {}).get("owner")
        if owner != org:
            return li_error(403, "ACCESS_DENIED", "Not the owner")
        image_id = str(next(self._ids))
        urn = f"urn:li:image:C4E10AQ{image_id}"
        with self.lock:
            self.images[urn] = {"status": "WAITING_UPLOAD", "bytes": 0, "upload": image_id}
        return 200, {
            "value": {
                "uploadUrlExpiresAt": _millis() + 3_600_000,
                "uploadUrl": f"{self.url}/dms-uploads/{image_id}",
                "image": urn,
            }
        }

    @route("PUT", "/dms-uploads/{upload_id}")
    def upload(self, request: Request):
        _org, refused = self._guard(request)
        if refused:
            return refused
        with self.lock:
            for image in self.images.values():
                if image["upload"] == request.params["upload_id"] and request.body:
                    image.update(status="AVAILABLE", bytes=len(request.body))
                    return 201, None
        return 400, {"message": "bad upload"}

    @route("GET", "/rest/organizations/{org_id}")
    def organization(self, request: Request):
        org, refused = self._guard(request)
        if refused:
            return refused
        found = self.organizations.get(request.params["org_id"])
        if found is None:
            return li_error(404, "NOT_FOUND", "Organization not found")
        return 200, {k: v for k, v in found.items() if k != "urn"}

    @route("POST", "/rest/socialActions/{target}/comments")
    def create_comment(self, request: Request):
        org, refused = self._guard(request)
        if refused:
            return refused
        target = unquote(request.params["target"])
        body = request.json() or {}
        text = (body.get("message") or {}).get("text")
        if body.get("actor") != org or not text:
            return li_error(422, "UNPROCESSABLE_ENTITY", "actor and message.text are required")
        with self.lock:
            if target not in self.posts and target not in self.comments:
                return li_error(404, "NOT_FOUND", f"{target} does not exist")
            if target.startswith("urn:li:comment:") and body.get("parentComment") != target:
                return li_error(
                    422, "UNPROCESSABLE_ENTITY", "parentComment must name the comment replied to"
                )
            comment = self._comment(target, text, org, body.get("parentComment"))
        return 201, comment, {"x-restli-id": comment["id"]}

    @route("GET", "/rest/socialActions/{target}/comments")
    def list_comments(self, request: Request):
        _org, refused = self._guard(request)
        if refused:
            return refused
        target = unquote(request.params["target"])
        with self.lock:
            if target.startswith("urn:li:comment:"):
                found = [c for c in self.comments.values() if c.get("parentComment") == target]
            else:
                found = [
                    c
                    for c in self.comments.values()
                    if c["object"] == target and not c.get("parentComment")
                ]
            shown = [self._shown_comment(c) for c in reversed(found)]
        paging: dict[str, Any] = {"start": 0, "count": len(shown), "total": len(shown), "links": []}
        return 200, {"elements": shown, "paging": paging}
