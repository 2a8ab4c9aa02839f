"""A loopback X API v2: tweets, simple media upload, OAuth 2 refresh, users/me, timelines.

Shapes follow docs.x.com: ``{"data": {...}}`` on success, problem objects
``{"title", "detail", "type", "status"}`` on errors, ``x-rate-limit-*`` headers on every
answer, refresh tokens rotated on use, tweet text returned HTML-escaped with links wrapped in
t.co (``entities.urls`` carries the expanded URL), timelines newest first with ``meta``.
"""

from __future__ import annotations

import base64
import html
import itertools
import re
import time
from datetime import UTC, datetime
from typing import Any

from agency.content import limits
from tests.fakes import multipart
from tests.fakes.base import FakeService, Request, route
from tests.fakes.oauth2 import OAuth2Consent

URL_RE = re.compile(r"https?://\S+")
PROBLEM = "about:blank"


def _problem(status: int, title: str, detail: str) -> tuple[int, dict]:
    return status, {"title": title, "detail": detail, "type": PROBLEM, "status": status}


class FakeX(OAuth2Consent, FakeService):
    authorize_path = "/i/oauth2/authorize"

    def __init__(self, *, client_id: str = "regia-client") -> None:
        super().__init__()
        self.client_id = self.oauth_client_id = client_id
        self.consenting_user: str | None = None  # the user id who signs in on the consent page
        self._ids = itertools.count(1_800_000_000_000_000_001)
        self.users: dict[str, dict] = {}
        self.tokens: dict[str, str] = {}  # access token -> user id
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user id
        self.tweets: list[dict] = []  # oldest first
        self.media: dict[str, dict] = {}
        self.rate_limit_reset = int(time.time()) + 900

    # -- set-up -------------------------------------------------------------------------------
    def add_user(self, username: str, *, token: str | None = None, refresh: str | None = None):
        user = {
            "id": str(next(self._ids)),
            "username": username,
            "name": username.title(),
            "profile_image_url": f"https://pbs.twimg.com/profile_images/{username}_normal.jpg",
        }
        self.users[user["id"]] = user
        if token:
            self.tokens[token] = user["id"]
        if refresh:
            self.refresh_tokens[refresh] = user["id"]
        return user

    def add_tweet(self, author: dict, text: str, *, in_reply_to: str | None = None) -> dict:
        """A tweet written by someone (a mention or a reply to us arrives this way)."""
        with self.lock:
            return self._store(author["id"], text, in_reply_to, [])

    def posts_by(self, user: dict) -> list[dict]:
        return [t for t in self.tweets if t["author_id"] == user["id"]]

    # -- helpers ------------------------------------------------------------------------------
    def _answer(self, status: int, body: Any) -> tuple[int, Any, dict]:
        headers = {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "99",
            "x-rate-limit-reset": str(self.rate_limit_reset),
        }
        return status, body, headers

    def _auth(self, request: Request) -> str | None:
        header = request.header("authorization") or ""
        return self.tokens.get(header.removeprefix("Bearer ")) if header else None

    def _store(self, author_id: str, text: str, reply_to: str | None, media: list) -> dict:
        tweet_id = str(next(self._ids))
        parent = next((t for t in self.tweets if t["id"] == reply_to), None)
        tweet = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conversation_id": parent["conversation_id"] if parent else tweet_id,
            "in_reply_to": reply_to,
            "media_ids": media,
        }
        self.tweets.append(tweet)
        return tweet

    def _render(self, tweet: dict) -> dict:
        """A tweet as the API returns it: escaped text, t.co links, entities."""
        urls = []

        def wrap(match: re.Match) -> str:
            short = f"https://t.co/{len(urls) + 1:010d}"
            urls.append({"url": short, "expanded_url": match.group(0)})
            return short

        shown = URL_RE.sub(wrap, tweet["text"])
        body = {
            "id": tweet["id"],
            "text": html.escape(shown, quote=False),
            "author_id": tweet["author_id"],
            "created_at": tweet["created_at"],
            "conversation_id": tweet["conversation_id"],
            "edit_history_tweet_ids": [tweet["id"]],
        }
        if urls:
            body["entities"] = {"urls": urls}
        if tweet["in_reply_to"]:
            body["referenced_tweets"] = [{"type": "replied_to", "id": tweet["in_reply_to"]}]
        return body

    def _timeline(self, request: Request, tweets: list[dict]) -> tuple[int, Any, dict]:
        since = request.arg("since_id")
        start = request.arg("start_time")
        limit = int(request.arg("max_results") or 10)
        if not 5 <= limit <= 100:
            return self._answer(*_problem(400, "Invalid Request", "max_results: 5 to 100"))
        chosen = [t for t in reversed(tweets) if not since or int(t["id"]) > int(since)]
        if start:
            chosen = [t for t in chosen if t["created_at"][:19] >= start[:19]]
        offset = int(request.arg("pagination_token") or 0)
        page = chosen[offset : offset + limit]
        if not page:
            return self._answer(200, {"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
        }
        if offset + limit < len(chosen):
            meta["next_token"] = str(offset + limit)
        body: dict[str, Any] = {"data": [self._render(t) for t in page], "meta": meta}
        if "author_id" in (request.arg("expansions") or ""):
            authors = {t["author_id"] for t in page}
            body["includes"] = {"users": [self._public(self.users[a]) for a in authors]}
        return self._answer(200, body)

    def _public(self, user: dict) -> dict:
        return {k: user[k] for k in ("id", "name", "username")}

    # -- routes -------------------------------------------------------------------------------
    @route("POST", "/2/tweets")
    def create_tweet(self, request: Request):
        user_id = self._auth(request)
        if user_id is None:
            return self._answer(*_problem(401, "Unauthorized", "Unauthorized"))
        body = request.json() or {}
        text = body.get("text", "")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        with self.lock:
            if not text and not media_ids:
                return self._answer(
                    400,
                    {
                        "errors": [{"message": "text or media required"}],
                        "title": "Invalid Request",
                        "type": PROBLEM,
                    },
                )
            if limits.x_length(text) > limits.X_LIMIT:
                return self._answer(*_problem(403, "Forbidden", "Tweet text is too long."))
            if any(m not in self.media or self.media[m]["owner"] != user_id for m in media_ids):
                return self._answer(
                    400,
                    {
                        "errors": [{"message": "Invalid media_ids"}],
                        "title": "Invalid Request",
                        "type": PROBLEM,
                    },
                )
            if reply_to and not any(t["id"] == reply_to for t in self.tweets):
                detail = "The Tweet you are replying to has been deleted or is not visible."
                return self._answer(*_problem(403, "Forbidden", detail))
            mine = [t for t in self.tweets if t["author_id"] == user_id]
            if text and any(t["text"] == text for t in mine):
                detail = "You are not allowed to create a Tweet with duplicate content."
                return self._answer(*_problem(403, "Forbidden", detail))
            tweet = self._store(user_id, text, reply_to, media_ids)
        rendered = self._render(tweet)
        data = {k: rendered[k] for k in ("id", "text", "edit_history_tweet_ids")}
        return self._answer(201, {"data": data})

    @route("POST", "/2/media/upload")
    def upload_media(self, request: Request):
        user_id = self._auth(request)
        if user_id is None:
            return self._answer(*_problem(401, "Unauthorized", "Unauthorized"))
        parts = multipart.parse(request) or {}
        if "media" not in parts or not parts["media"].value:
            return self._answer(
                400,
                {
                    "errors": [{"message": "media is required"}],
                    "title": "Invalid Request",
                    "type": PROBLEM,
                },
            )
        media_id = str(next(self._ids))
        category = parts["media_category"].text if "media_category" in parts else "tweet_image"
        with self.lock:
            self.media[media_id] = {
                "owner": user_id,
                "size": len(parts["media"].value),
                "category": category,
                "alt_text": None,
            }
        return self._answer(
            200,
            {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(parts["media"].value),
                    "expires_after_secs": 86400,
                    "image": {"image_type": parts["media"].content_type, "w": 1, "h": 1},
                }
            },
        )

    @route("POST", "/2/media/metadata")
    def media_metadata(self, request: Request):
        if self._auth(request) is None:
            return self._answer(*_problem(401, "Unauthorized", "Unauthorized"))
        body = request.json() or {}
        media = self.media.get(str(body.get("id")))
        if media is None:
            return self._answer(*_problem(400, "Invalid Request", "Unknown media id"))
        media["alt_text"] = body["metadata"]["alt_text"]["text"]
        return self._answer(200, {"data": {"id": body["id"], "associated_metadata": True}})

    # -- OAuth 2.0 Authorization Code with PKCE (x.com/i/oauth2/authorize) ----------------------
    @route("GET", "/i/oauth2/authorize")
    def authorize_page(self, request: Request):
        return self.consent_page(request)

    @route("POST", "/i/oauth2/authorize")
    def authorize_decision(self, request: Request):
        return self.consent_decision(request)

    def _code_grant(self, form: dict, client_id: str | None, secret: str | None):
        if not form.get("code_verifier"):
            return 400, {"error": "invalid_request", "error_description": "Missing code_verifier"}
        grant, problem = self.redeem(
            form.get("code", ""), client_id, secret, form.get("redirect_uri"), form["code_verifier"]
        )
        if grant is None:
            return 400, {
                "error": "invalid_request",
                "error_description": "Value passed for the authorization code was invalid.",
            }
        with self.lock:
            user_id = self.consenting_user or next(iter(self.users))
            access, refresh = f"at-{next(self._ids)}", f"rt-{next(self._ids)}"
            self.tokens[access] = user_id
            self.refresh_tokens[refresh] = user_id
        answer = {"token_type": "bearer", "expires_in": 7200, "access_token": access}
        answer["scope"] = grant.get("scope", "")
        if "offline.access" in grant.get("scope", "").split():
            answer["refresh_token"] = refresh
        return 200, answer

    @route("POST", "/2/oauth2/token")
    def token(self, request: Request):
        form = {k: v[0] for k, v in request.form().items()}
        client_id, secret = form.get("client_id"), None
        if (request.header("authorization") or "").startswith("Basic "):
            decoded = base64.b64decode(request.header("authorization")[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        if client_id != self.client_id:
            return 401, {
                "error": "unauthorized_client",
                "error_description": "Missing valid authorization header",
            }
        if form.get("grant_type") == "authorization_code":
            return self._code_grant(form, client_id, secret)
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        with self.lock:
            user_id = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if user_id is None:
                return 400, {
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                }
            access, refresh = f"at-{next(self._ids)}", f"rt-{next(self._ids)}"
            self.tokens[access] = user_id
            self.refresh_tokens[refresh] = user_id
        return 200, {
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": access,
            "scope": "tweet.read tweet.write users.read offline.access",
            "refresh_token": refresh,
        }

    @route("GET", "/2/users/me")
    def me(self, request: Request):
        user_id = self._auth(request)
        if user_id is None:
            return self._answer(*_problem(401, "Unauthorized", "Unauthorized"))
        user = self.users[user_id]
        data = self._public(user)
        if "profile_image_url" in (request.arg("user.fields") or ""):
            data["profile_image_url"] = user["profile_image_url"]
        return self._answer(200, {"data": data})

    @route("GET", "/2/users/{user_id}/mentions")
    def mentions(self, request: Request):
        if self._auth(request) is None:
            return self._answer(*_problem(401, "Unauthorized", "Unauthorized"))
        user = self.users.get(request.params["user_id"])
        if user is None:
            return self._answer(*_problem(404, "Not Found Error", "Could not find user"))
        with self.lock:
            found = [
                t
                for t in self.tweets
                if t["author_id"] != user["id"]
                and (f"@{user['username']}" in t["text"] or self._replies_to(t, user["id"]))
            ]
        return self._timeline(request, found)

    @route("GET", "/2/users/{user_id}/tweets")
    def user_tweets(self, request: Request):
        if self._auth(request) is None:
            return self._answer(*_problem(401, "Unauthorized", "Unauthorized"))
        with self.lock:
            mine = [t for t in self.tweets if t["author_id"] == request.params["user_id"]]
        return self._timeline(request, mine)

    def _replies_to(self, tweet: dict, user_id: str) -> bool:
        parent = next((t for t in self.tweets if t["id"] == tweet["in_reply_to"]), None)
        return parent is not None and parent["author_id"] == user_id
