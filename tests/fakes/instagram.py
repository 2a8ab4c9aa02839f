"""Instagram's content publishing on the loopback Graph API (same host as Facebook Pages).

Follows developers.facebook.com/docs/instagram-platform: ``POST /{ig-user-id}/media`` makes a
container (``IN_PROGRESS`` for ``polls_until_finished`` status checks, then ``FINISHED``, or
``ERROR`` with ``processing_fails``); ``POST /{ig-user-id}/media_publish`` refuses an unfinished
container with code 9007 / subcode 2207027 and marks a published one ``PUBLISHED``;
``/{ig-comment-id}/replies`` answers comments; timestamps are ``2026-11-27T06:50:00+0000``.
"""

from __future__ import annotations

import re

from tests.fakes import multipart
from tests.fakes.base import Request, route
from tests.fakes.facebook import FakeGraph, graph_error, graph_time


class FakeInstagramGraph(FakeGraph):
    def __init__(self) -> None:
        super().__init__()
        self.ig_users: dict[str, dict] = {}  # ig user id -> account (with its page id)
        self.containers: dict[str, dict] = {}
        self.polls_until_finished = 1  # status checks answering IN_PROGRESS first
        self.processing_fails = False  # containers end in ERROR (an image Instagram refuses)

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

    def media_of(self, account: dict) -> list[dict]:
        return [m for m in self.ig_media.values() if m["owner"] == account["id"]]

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

    # -- routes -------------------------------------------------------------------------------
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
                "timestamp": graph_time(),
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

    def _may_act_for(self, page_id: str, node: str) -> bool:
        return self.ig_users.get(node, {}).get("page_id") == page_id

    def node(self, node: str, fields: str) -> dict | None:
        with self.lock:
            if node in self.containers:
                container = self.containers[node]
                if container["status_code"] == "IN_PROGRESS":
                    container["polls"] += 1
                    if self.processing_fails:
                        container["status_code"] = "ERROR"
                    elif container["polls"] > self.polls_until_finished:
                        container["status_code"] = "FINISHED"
                return {"status_code": container["status_code"], "id": node}
            if node in self.ig_media:
                if "parent_id" in fields:  # not a field of media: Graph refuses the request
                    return None
                return {"id": node, "permalink": f"https://www.instagram.com/p/{node}/"}
            comment = self.comments.get(node)
            if comment is not None and comment["on"] in self.ig_media:
                shown = {
                    "id": node,
                    "text": comment["message"],
                    "timestamp": comment["created_time"],
                }
                if comment["parent"]:
                    shown["parent_id"] = comment["parent"]
                return shown
            if node in self.ig_users:
                account = self.ig_users[node]
                wanted = [f for f in fields.split(",") if f in account] or ["id"]
                return {f: account[f] for f in {"id", *wanted}}
        return super().node(node, fields)
