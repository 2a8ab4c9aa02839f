"""A loopback Meta Graph API (graph.facebook.com/vXX.X/): Facebook Pages.

``tests/fakes/instagram.py`` extends it with Instagram's content publishing, which lives on
the same host in reality. Shapes follow the Graph docs: ``{"id": ...}`` on create, ``{"data": [...],
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
from tests.fakes.oauth2 import OAuth2Consent

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


def graph_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class FakeGraph(OAuth2Consent, FakeService):
    """Also Facebook Login: the dialog (www.facebook.com/{version}/dialog/oauth), the code and
    long-lived token exchanges (``/{version}/oauth/access_token``) and ``/me/accounts``: a
    person (``add_person``) who manages Pages signs in; their user token lists the Pages with
    each Page's access token (and, with the Instagram fake, its Instagram business account).
    """

    authorize_path = "/{version}/dialog/oauth"
    denial = ("access_denied", "Permissions error")

    def __init__(self) -> None:
        super().__init__()
        self.people: dict[str, dict] = {}  # person id -> {id, name, pages: [page ids]}
        self.user_tokens: dict[str, tuple[str, bool]] = {}  # token -> (person id, long-lived)
        self.consenting_person: str | None = None
        self._ids = itertools.count(10_000_001)
        self.tokens: dict[str, str] = {}  # token -> the page id it acts as
        self.pages: dict[str, dict] = {}
        self.posts: dict[str, dict] = {}  # page posts, by id "pageid_n"
        self.comments: dict[str, dict] = {}  # page and instagram comments
        self.ig_media: dict[str, dict] = {}  # Instagram media (the Instagram fake adds some)

    # -- set-up -------------------------------------------------------------------------------
    def _id(self) -> str:
        return str(next(self._ids))

    def add_page(self, name: str, token: str) -> dict:
        page = {"id": self._id(), "name": name}
        self.pages[page["id"]] = page
        self.tokens[token] = page["id"]
        return page

    def add_person(self, name: str, *, manages: tuple[dict, ...] = ()) -> dict:
        person = {"id": self._id(), "name": name, "pages": [p["id"] for p in manages]}
        self.people[person["id"]] = person
        self.consenting_person = self.consenting_person or person["id"]
        return person

    def page_token(self, page_id: str) -> str:
        return next(t for t, p in self.tokens.items() if p == page_id)

    def add_comment(self, on: str, text: str, *, name: str = "Fan", parent: str | None = None):
        """A visitor's comment on a Page post (``on``), or on Instagram media."""
        with self.lock:
            author = {"id": self._id(), "name": name, "username": name.lower()}
            return self._comment(on, text, author, parent)

    def page_posts(self, page: dict) -> list[dict]:
        return [p for p in self.posts.values() if p["from"]["id"] == page["id"]]

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

    def _comment(self, on: str, text: str, author: dict, parent: str | None) -> dict:
        root = self.comments[on]["on"] if on in self.comments else on
        comment = {
            "id": f"{root.split('_')[-1]}_{self._id()}",
            "message": text,
            "on": root,
            "parent": parent or (on if on in self.comments else None),
            "from": author,
            "created_time": graph_time(),
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
            "created_time": graph_time(),
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
        found = self.node(node, fields)
        if found is not None:
            return 200, found
        return 400, graph_error(
            f"Unsupported get request. Object with ID '{node}' does not exist", 100, 33
        )

    def node(self, node: str, fields: str) -> dict | None:
        """A node other than ``me`` by id (the Instagram fake adds its own), or None."""
        with self.lock:
            post = self.posts.get(node)
            return {"id": node, "message": post["message"]} if post else None

    # -- Facebook Login -------------------------------------------------------------------------
    @route("GET", "/{version}/dialog/oauth")
    def dialog(self, request: Request):
        return self.consent_page(request)

    @route("POST", "/{version}/dialog/oauth")
    def dialog_decision(self, request: Request):
        return self.consent_decision(request)

    @route("GET", "/{version}/oauth/access_token")
    def access_token(self, request: Request):
        if request.arg("client_id") != self.oauth_client_id or (
            request.arg("client_secret") != self.oauth_client_secret
        ):
            return 400, graph_error("Error validating client secret.", 1)
        if request.arg("grant_type") == "fb_exchange_token":
            found = self.user_tokens.get(request.arg("fb_exchange_token") or "")
            if found is None:
                return 400, graph_error(
                    "Invalid OAuth access token - Cannot parse access token", 190
                )
            token, lifetime = f"EAAL{self._id()}", 5183944
            long_lived = True
        else:
            grant, _problem = self.redeem(
                request.arg("code") or "",
                request.arg("client_id"),
                request.arg("client_secret"),
                request.arg("redirect_uri"),
            )
            if grant is None:
                return 400, graph_error("This authorization code has been used.", 100, 36009)
            found = (self.consenting_person or "", False)
            token, lifetime, long_lived = f"EAAS{self._id()}", 5400, False
        with self.lock:
            self.user_tokens[token] = (found[0], long_lived)
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": lifetime}

    @route("GET", "/{version}/me/accounts")
    def accounts(self, request: Request):
        token = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        found = self.user_tokens.get(token or request.arg("access_token") or "")
        if found is None:
            return 400, graph_error("Invalid OAuth access token - Cannot parse access token", 190)
        fields = self._fields(request)
        data = []
        for page_id in self.people[found[0]]["pages"]:
            page = self.pages[page_id]
            shown = {
                "access_token": self.page_token(page_id),
                "category": "Coffee Shop",
                "category_list": [{"id": "128673187201735", "name": "Coffee Shop"}],
                "name": page["name"],
                "id": page_id,
                "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
            }
            ig = next(
                (u for u in getattr(self, "ig_users", {}).values() if u["page_id"] == page_id),
                None,
            )
            if ig is not None and "instagram_business_account" in fields:
                shown["instagram_business_account"] = {"id": ig["id"], "username": ig["username"]}
            data.append(shown)
        return 200, self._listing(data)


def _epoch(created_time: str) -> int:
    return int(datetime.strptime(created_time, "%Y-%m-%dT%H:%M:%S%z").timestamp())
