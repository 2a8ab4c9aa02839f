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
from tests.fakes.oauth2 import OAuth2Consent

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


class FakeLinkedIn(OAuth2Consent, FakeService):
    """Also the OAuth side (www.linkedin.com/oauth/v2/…) and the member's identity: a member
    (``add_member``) signs in on the consent page; their token acts as the member
    (``urn:li:person:<sub>``) and for the organizations they administer (``organizationAcls``).
    """

    authorize_path = "/oauth/v2/authorization"
    denial = ("user_cancelled_authorize", "The user cancelled the authorization")

    def __init__(self) -> None:
        super().__init__()
        self.members: dict[str, dict] = {}  # person URN -> {sub, name, picture, orgs}
        self.consenting_member: str | None = None  # person URN who signs in
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

    def add_member(self, name: str, *, administers: tuple[dict, ...] = ()) -> dict:
        sub = f"m{next(self._ids)}"[-10:]
        member = {
            "sub": sub,
            "urn": f"urn:li:person:{sub}",
            "name": name,
            "picture": f"https://media.licdn.com/dms/image/{sub}/profile.jpg",
            "orgs": [org["urn"] for org in administers],
        }
        self.members[member["urn"]] = member
        self.consenting_member = self.consenting_member or member["urn"]
        return member

    def _acts_for(self, principal: str | None) -> set[str]:
        member = self.members.get(principal or "")
        return {principal or "", *(member["orgs"] if member else ())}

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
        if body.get("author") not in self._acts_for(org):
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

    # -- OAuth 2.0 (www.linkedin.com/oauth/v2/…) and the member --------------------------------
    @route("GET", "/oauth/v2/authorization")
    def authorize_page(self, request: Request):
        return self.consent_page(request)

    @route("POST", "/oauth/v2/authorization")
    def authorize_decision(self, request: Request):
        return self.consent_decision(request)

    @route("POST", "/oauth/v2/accessToken")
    def access_token(self, request: Request):
        form = {k: v[0] for k, v in request.form().items()}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type", "error_description": "bad grant"}
        grant, problem = self.redeem(
            form.get("code", ""),
            form.get("client_id"),
            form.get("client_secret"),
            form.get("redirect_uri"),
        )
        if grant is None:
            description = {
                "invalid_client": "Client authentication failed",
                "invalid_grant": "The provided authorization grant or refresh token is invalid, "
                "expired or revoked.",
            }[problem]
            return (401 if problem == "invalid_client" else 400), {
                "error": problem,
                "error_description": description,
            }
        token = f"AQV{next(self._ids)}"
        with self.lock:
            self.tokens[token] = self.consenting_member or ""
        return 200, {"access_token": token, "expires_in": 5183999, "scope": grant.get("scope")}

    @route("GET", "/v2/userinfo")
    def userinfo(self, request: Request):
        token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        member = self.members.get(self.tokens.get(token, ""))
        if member is None:
            return 401, {
                "serviceErrorCode": 65600,
                "message": "Invalid access token",
                "status": 401,
            }
        first, _, last = member["name"].partition(" ")
        return 200, {
            "sub": member["sub"],
            "email_verified": True,
            "name": member["name"],
            "locale": {"country": "US", "language": "en"},
            "given_name": first,
            "family_name": last,
            "picture": member["picture"],
        }

    @route("GET", "/rest/organizationAcls")
    def organization_acls(self, request: Request):
        principal, refused = self._guard(request)
        if refused:
            return refused
        if request.arg("q") != "roleAssignee":
            return li_error(400, "ILLEGAL_ARGUMENT", "Unsupported finder")
        member = self.members.get(principal or "")
        elements = [
            {
                "roleAssignee": principal,
                "state": "APPROVED",
                "role": "ADMINISTRATOR",
                "organization": urn,
            }
            for urn in (member["orgs"] if member else [])
        ]
        wanted_role, wanted_state = request.arg("role"), request.arg("state")
        elements = [
            e
            for e in elements
            if (not wanted_role or e["role"] == wanted_role)
            and (not wanted_state or e["state"] == wanted_state)
        ]
        return 200, {"paging": {"count": 10, "start": 0, "links": []}, "elements": elements}
