"""A loopback Meta Graph API (graph.facebook.com/vXX.X/): Facebook Pages and Instagram.

One fake for both networks, as in reality (Instagram's publishing API lives on the same
host). Shapes follow the Graph docs: ``{"id": ...}`` on create, ``{"data": [...],
"paging": {...}}`` on lists, newest first, ``created_time``/``timestamp`` as
``2026-11-27T06:50:00+0000``, and every error as HTTP 400 with ``{"error": {"message",
"type", "code", "error_subcode", "fbtrace_id"}}`` — so a client must read the code.
Tokens come in the ``Authorization: Bearer`` header or the ``access_token`` parameter.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from tests.fakes import multipart
from tests.fakes.base import FakeService, Request, route

VERSION_RE = re.compile(r"^v\d+\.\d+$")


def graph_error(message: str, code: int, subcode: int | None = None, **extra: Any) -> dict:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGh123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class FakeGraph(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(10_000_001)
        self.tokens: dict[str, str] = {}  # token -> the page id it acts as
        self.pages: dict[str, dict] = {}
        self.ig_users: dict[str, dict] = {}  # ig user id -> account (with its page id)
        self.posts: dict[str, dict] = {}  # page posts, by id "pageid_n"
        self.comments: dict[str, dict] = {}  # page and instagram comments
        self.containers: dict[str, dict] = {}
        self.ig_media: dict[str, dict] = {}
        self.polls_until_finished = 1  # status checks answering IN_PROGRESS first
        self.processing_fails = False  # containers end in ERROR (an image Instagram refuses)

    # -- set-up -------------------------------------------------------------------------------
    def _id(self) -> str:
        return str(next(self._ids))

    def add_page(self, name: str, token: str) -> dict:
        page = {"id": self._id(), "name": name}
        self.pages[page["id"]] = page
        self.tokens[token] = page["id"]
        return page

    def add_instagram(self, page: dict, username: str) -> dict:
        account = {
            "id": self._id(),
            "username": username,
            "name": username.title(),
            "page_id": page["id"],
            "profile_picture_url": f"https://scontent.example/{username}.jpg",
        }
        self.ig_users[account["id"]] = account
        return account

    def add_comment(self, on: str, text: str, *, name: str = "Fan", parent: str | None = None):
        """A visitor's comment on a Page post (``on``), or on Instagram media."""
        with self.lock:
            author = {"id": self._id(), "name": name, "username": name.lower()}
            return self._comment(on, text, author, parent)

    def page_posts(self, page: dict) -> list[dict]:
        return [p for p in self.posts.values() if p["from"]["id"] == page["id"]]

    def media_of(self, account: dict) -> list[dict]:
        return [m for m in self.ig_media.values() if m["owner"] == account["id"]]

    # -- helpers ------------------------------------------------------------------------------
    def _acting(self, request: Request) -> str | None:
        token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        token = token or multipart.fields(request).get("access_token", "")
        return self.tokens.get(token)

    def _guard(self, request: Request) -> tuple[str | None, tuple | None]:
        if not VERSION_RE.match(request.params.get("version", "")):
            return None, (400, graph_error("Unknown path components", 2500))
        page_id = self._acting(request)
        if page_id is None:
            return None, (
                400,
                graph_error("Invalid OAuth access token - Cannot parse access token", 190),
            )
        return page_id, None

    def _may_act_for(self, page_id: str, node: str) -> bool:
        return node == page_id or self.ig_users.get(node, {}).get("page_id") == page_id

    def _comment(self, on: str, text: str, author: dict, parent: str | None) -> dict:
        root = self.comments[on]["on"] if on in self.comments else on
        comment = {
            "id": f"{root.split('_')[-1]}_{self._id()}",
            "message": text,
            "on": root,
            "parent": parent or (on if on in self.comments else None),
            "from": author,
            "created_time": _now(),
        }
        self.comments[comment["id"]] = comment
        return comment

    @staticmethod
    def _fields(request: Request) -> str:
        return request.arg("fields") or ""

    def _page_comment(self, c: dict) -> dict:
        shown = {
            "id": c["id"],
            "message": c["message"],
            "created_time": c["created_time"],
            "from": {"id": c["from"]["id"], "name": c["from"]["name"]},
            "permalink_url": f"https://www.facebook.com/{c['id']}",
        }
        if c["parent"]:
            shown["parent"] = {"id": c["parent"]}
        return shown

    def _ig_comment(self, c: dict, fields: str) -> dict:
        shown = {
            "id": c["id"],
            "text": c["message"],
            "timestamp": c["created_time"],
            "username": c["from"].get("username", c["from"]["name"]),
        }
        if "replies" in fields and not c["parent"]:
            replies = [r for r in self.comments.values() if r["parent"] == c["id"]]
            shown["replies"] = {"data": [self._ig_comment(r, "") for r in reversed(replies)]}
        return shown

    def _listing(self, data: list[dict]) -> dict:
        return {"data": data, "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}}}

    # -- Facebook Page --------------------------------------------------------------------------
    @route("POST", "/{version}/{node}/feed")
    def create_post(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        if node != page_id:
            return 400, graph_error(
                "(#200) The user hasn't authorized the application to perform this action", 200
            )
        form = multipart.fields(request)
        message, link = form.get("message", ""), form.get("link")
        if not message and not link:
            return 400, graph_error("(#100) Missing message or attachment", 100)
        with self.lock:
            latest = self.page_posts(self.pages[page_id])[-1:]
            if latest and latest[0]["message"] == message:
                return 400, graph_error("(#506) Duplicate status message", 506)
            post = self._post(page_id, message, link=link)
        return 200, {"id": post["id"]}

    def _post(self, page_id: str, message: str, **extra: Any) -> dict:
        post_id = f"{page_id}_{self._id()}"
        post = {
            "id": post_id,
            "message": message,
            "created_time": _now(),
            "from": {"id": page_id, "name": self.pages[page_id]["name"]},
            **extra,
        }
        self.posts[post_id] = post
        return post

    @route("POST", "/{version}/{node}/photos")
    def create_photo(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        parts = multipart.parse(request) or {}
        form = multipart.fields(request)
        if "source" not in parts and not form.get("url"):
            return 400, graph_error("(#324) Requires upload file", 324)
        with self.lock:
            photo_id = self._id()
            post = self._post(
                page_id,
                form.get("caption", ""),
                photo_id=photo_id,
                photo_bytes=len(parts["source"].value) if "source" in parts else 0,
                alt_text=form.get("alt_text_custom"),
            )
        return 200, {"id": photo_id, "post_id": post["id"]}

    @route("POST", "/{version}/{node}/comments")
    def create_comment(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        form = multipart.fields(request)
        if not form.get("message"):
            return 400, graph_error("(#100) Missing message", 100)
        with self.lock:
            if node in self.ig_media:  # Instagram: a comment on our own media
                author = self._ig_author(self.ig_media[node]["owner"])
            elif node in self.posts or node in self.comments:
                author = {"id": page_id, "name": self.pages[page_id]["name"]}
            else:
                return 400, graph_error(
                    f"Unsupported post request. Object with ID '{node}' does not exist", 100, 33
                )
            comment = self._comment(node, form["message"], author, None)
        return 200, {"id": comment["id"]}

    @route("GET", "/{version}/{node}/feed")
    def list_feed(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        fields = self._fields(request)
        since = int(request.arg("since") or 0)
        limit = int(request.arg("limit") or 25)
        with self.lock:
            posts = [
                p
                for p in reversed(self.posts.values())
                if p["id"].startswith(f"{request.params['node']}_")
            ]
            posts = [p for p in posts if _epoch(p["created_time"]) >= since][:limit]
            data = []
            for post in posts:
                shown = {"id": post["id"], "created_time": post["created_time"]}
                for name in ("message", "from"):
                    if name in fields and post.get(name):
                        shown[name] = post[name]
                if "permalink_url" in fields:
                    shown["permalink_url"] = f"https://www.facebook.com/{post['id']}"
                if "comments" in fields:
                    mine = [c for c in self.comments.values() if c["on"] == post["id"]]
                    shown["comments"] = self._listing(
                        [self._page_comment(c) for c in reversed(mine)]
                    )
                data.append(shown)
        return 200, self._listing(data)

    @route("GET", "/{version}/{node}/comments")
    def list_comments(self, request: Request):
        _page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        with self.lock:
            found = [
                c
                for c in self.comments.values()
                if c["parent"] == node or (c["on"] == node and not c["parent"])
            ]
            if node in self.ig_media:
                shown = [self._ig_comment(c, self._fields(request)) for c in reversed(found)]
            else:
                shown = [self._page_comment(c) for c in reversed(found)]
        return 200, self._listing(shown)

    # -- Instagram ----------------------------------------------------------------------------
    def _ig_author(self, ig_user_id: str) -> dict:
        account = self.ig_users[ig_user_id]
        return {"id": account["id"], "name": account["name"], "username": account["username"]}

    @route("POST", "/{version}/{node}/media")
    def create_container(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        if node not in self.ig_users or not self._may_act_for(page_id, node):
            return 400, graph_error(
                "(#10) Application does not have permission for this action", 10
            )
        form = multipart.fields(request)
        if not re.match(r"^https?://", form.get("image_url", "")):
            return 400, graph_error("(#100) The parameter image_url is required", 100)
        with self.lock:
            container = {
                "id": self._id(),
                "owner": node,
                "image_url": form["image_url"],
                "caption": form.get("caption", ""),
                "status_code": "IN_PROGRESS",
                "polls": 0,
                "alt_text": form.get("alt_text"),
            }
            self.containers[container["id"]] = container
        return 200, {"id": container["id"]}

    @route("POST", "/{version}/{node}/media_publish")
    def publish_container(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        if not self._may_act_for(page_id, node):
            return 400, graph_error("(#10) Application does not have permission", 10)
        creation_id = multipart.fields(request).get("creation_id", "")
        with self.lock:
            container = self.containers.get(creation_id)
            if container is None or container["owner"] != node:
                return 400, graph_error("(#100) Invalid parameter", 100)
            if container["status_code"] != "FINISHED":
                return 400, graph_error(
                    "Media ID is not available",
                    9007,
                    2207027,
                    error_user_msg="The media is not ready for publishing, "
                    "please wait for a moment",
                )
            media = {
                "id": self._id(),
                "owner": node,
                "caption": container["caption"],
                "timestamp": _now(),
                "container": creation_id,
            }
            self.ig_media[media["id"]] = media
            container["status_code"] = "PUBLISHED"
        return 200, {"id": media["id"]}

    @route("GET", "/{version}/{node}/media")
    def list_media(self, request: Request):
        _page_id, refused = self._guard(request)
        if refused:
            return refused
        fields = self._fields(request)
        with self.lock:
            data = []
            for media in reversed(self.media_of(self.ig_users[request.params["node"]])):
                shown = {
                    "id": media["id"],
                    "caption": media["caption"],
                    "timestamp": media["timestamp"],
                    "permalink": f"https://www.instagram.com/p/{media['id']}/",
                }
                if "comments" in fields:
                    top = [
                        c
                        for c in self.comments.values()
                        if c["on"] == media["id"] and not c["parent"]
                    ]
                    shown["comments"] = {
                        "data": [self._ig_comment(c, fields) for c in reversed(top)]
                    }
                data.append(shown)
        return 200, self._listing(data[: int(request.arg("limit") or 25)])

    @route("POST", "/{version}/{node}/replies")
    def reply_to_ig_comment(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        comment = self.comments.get(node)
        message = multipart.fields(request).get("message")
        if comment is None or comment["on"] not in self.ig_media or comment["parent"]:
            return 400, graph_error("(#100) Invalid parameter", 100)
        if not message:
            return 400, graph_error("(#100) Missing message", 100)
        with self.lock:
            owner = self.ig_media[comment["on"]]["owner"]
            reply = self._comment(node, message, self._ig_author(owner), node)
        return 200, {"id": reply["id"]}

    @route("GET", "/{version}/{node}/replies")
    def list_ig_replies(self, request: Request):
        _page_id, refused = self._guard(request)
        if refused:
            return refused
        with self.lock:
            found = [c for c in self.comments.values() if c["parent"] == request.params["node"]]
            return 200, self._listing([self._ig_comment(c, "") for c in reversed(found)])

    # -- nodes --------------------------------------------------------------------------------
    @route("GET", "/{version}/{node}")
    def read_node(self, request: Request):
        page_id, refused = self._guard(request)
        if refused:
            return refused
        node = request.params["node"]
        fields = self._fields(request)
        if node == "me":
            page = self.pages[page_id]
            return 200, {
                "id": page["id"],
                "name": page["name"],
                "picture": {
                    "data": {
                        "height": 50,
                        "is_silhouette": False,
                        "width": 50,
                        "url": f"https://scontent.example/{page['id']}.jpg",
                    }
                },
            }
        with self.lock:
            if node in self.containers:
                container = self.containers[node]
                if container["status_code"] == "IN_PROGRESS":
                    container["polls"] += 1
                    if self.processing_fails:
                        container["status_code"] = "ERROR"
                    elif container["polls"] > self.polls_until_finished:
                        container["status_code"] = "FINISHED"
                return 200, {"status_code": container["status_code"], "id": node}
            if node in self.ig_media:
                return 200, {"id": node, "permalink": f"https://www.instagram.com/p/{node}/"}
            if node in self.ig_users:
                account = self.ig_users[node]
                wanted = [f for f in fields.split(",") if f in account] or ["id"]
                return 200, {f: account[f] for f in {"id", *wanted}}
        return 400, graph_error(
            f"Unsupported get request. Object with ID '{node}' does not exist", 100, 33
        )


def _epoch(created_time: str) -> int:
    return int(datetime.strptime(created_time, "%Y-%m-%dT%H:%M:%S%z").timestamp())
