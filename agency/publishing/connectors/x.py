"""X (API v2): ``POST /2/tweets``, media through ``POST /2/media/upload``, OAuth 2 refresh.

X has no idempotency key. Before the create call the connector checkpoints the time the
attempt started (``x_started_at``); after an unknown outcome ``find_existing`` lists the
account's tweets since then (``GET /2/users/:id/tweets?start_time=``) and looks for the exact
text (X returns it HTML-escaped and with links wrapped in t.co, both undone before comparing).
A 403 "duplicate content" on a retry means the earlier attempt landed: it is looked up too.
Rate limits: ``x-rate-limit-reset`` is the epoch second the window reopens.
"""

from __future__ import annotations

import base64
import html
import time
from typing import Any

import httpx

from agency import config, outbound_retry
from agency.content import limits
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

DEFAULT_API = "https://api.x.com"
MAX_IMAGES = 4
STARTED = "x_started_at"
TWEET_FIELDS = "created_at,author_id,conversation_id,referenced_tweets,entities"
MAX_INBOUND_PAGES = 5


@register
class XConnector(support.AttemptStart, Connector):
    network = "x"
    label = "X"
    started_key = STARTED

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def api(self) -> str:
        return (self.settings.get("api_base") or DEFAULT_API).rstrip("/")

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.settings.get('access_token', '')}"}
        try:
            response = self.http.request(method, f"{self.api}{path}", headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise self.classify(exc) from exc
        if not response.is_success:
            raise self.classify(response)
        return response

    def _user(self) -> dict[str, Any]:
        if not hasattr(self, "_me"):
            fields = {"user.fields": "profile_image_url,username,name"}
            me = support.json_body(self._call("GET", "/2/users/me", params=fields)) or {}
            if not isinstance(me.get("data"), dict):
                raise PublishError(ErrorClass.RETRYABLE, "X did not say who this account is.")
            self._me = me["data"]
        return self._me

    # -- interface ---------------------------------------------------------------------------
    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        used = limits.x_length(outgoing.text)
        if used > limits.X_LIMIT:
            problems.append(f"X allows {limits.X_LIMIT} characters; this text counts {used}.")
        if not outgoing.text.strip() and not outgoing.media:
            problems.append("X needs text or an image.")
        if len(outgoing.media) > MAX_IMAGES:
            problems.append(f"X allows at most {MAX_IMAGES} images in a post.")
        return problems

    def verify(self) -> AccountInfo:
        me = self._user()
        return AccountInfo(
            handle=f"@{me['username']}",
            display_name=me.get("name", ""),
            avatar_url=me.get("profile_image_url"),
        )

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        support.require(not problems, " ".join(problems))
        body: dict[str, Any] = {"text": outgoing.text}
        media_ids = [self._upload(outgoing, i) for i in range(len(outgoing.media))]
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if outgoing.reply_to:
            body["reply"] = {"in_reply_to_tweet_id": outgoing.reply_to}
        self.mark_start(outgoing)
        try:
            created = support.json_body(self._call("POST", "/2/tweets", json=body)) or {}
        except PublishError as error:
            if "duplicate" in error.message.lower():
                found = self.find_existing(outgoing)
                if found is not None:
                    return found
            raise
        tweet_id = support.created_id((created.get("data") or {}).get("id"), "X")
        return Published(external_id=tweet_id, url=self._url(tweet_id))

    def publish_reply(self, outgoing: Outgoing) -> Published:
        support.require(bool(outgoing.reply_to), "A reply needs the tweet it answers.")
        return self.publish(outgoing)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        start = self.start_of(outgoing)
        if start is None:
            return None  # no attempt reached X
        params = {"max_results": "100", "tweet.fields": TWEET_FIELDS}
        params["start_time"] = support.iso_z(start)
        tweets = self._call("GET", f"/2/users/{self._user()['id']}/tweets", params=params)
        for tweet in (support.json_body(tweets) or {}).get("data") or []:
            if _plain_text(tweet).strip() != outgoing.text.strip():
                continue
            if outgoing.reply_to and _replied_to(tweet) != outgoing.reply_to:
                continue
            return Published(external_id=str(tweet["id"]), url=self._url(tweet["id"]))
        return None

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        params = {
            "max_results": "100",
            "tweet.fields": TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": "username,name",
        }
        if cursor:
            params["since_id"] = cursor
        tweets: list[dict] = []
        users: dict[str, dict] = {}
        path = f"/2/users/{self._user()['id']}/mentions"
        for _page in range(MAX_INBOUND_PAGES):
            page = support.json_body(self._call("GET", path, params=params)) or {}
            tweets.extend(page.get("data") or [])
            users.update({u["id"]: u for u in page.get("includes", {}).get("users", [])})
            token = page.get("meta", {}).get("next_token")
            if not token:
                break
            params["pagination_token"] = token
        if not tweets:
            return [], cursor
        tweets.sort(key=lambda t: int(t["id"]))
        items = [self._inbound(tweet, users.get(tweet.get("author_id"), {})) for tweet in tweets]
        return items, str(tweets[-1]["id"])

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        if isinstance(result, BaseException):
            return support.transport_error(result)
        body = support.json_body(result) or {}
        message = _message(body) or f"X answered HTTP {result.status_code}"
        if result.status_code == 429:
            return PublishError(ErrorClass.RETRYABLE, message, retry_after=_reset_in(result))
        return PublishError(support.status_class(result), message)

    def refresh_credentials(self) -> dict[str, str] | None:
        refresh_token = self.settings.get("refresh_token")
        if not refresh_token or not self.settings.get("client_id"):
            return None
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        headers = {}
        # Confidential client (the operator's app of "Connect with X", or a pasted secret): Basic.
        secret = self.settings.get("client_secret") or config.oauth_client_secret(
            "x", self.settings["client_id"]
        )
        if secret:
            pair = f"{self.settings['client_id']}:{secret}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        else:
            form["client_id"] = self.settings["client_id"]
        try:
            response = self.http.request(
                "POST", f"{self.api}/2/oauth2/token", data=form, headers=headers
            )
        except httpx.HTTPError as exc:
            raise support.transport_error(exc) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise self.classify(response)
        if not response.is_success:
            return None  # refresh token revoked or spent: the channel needs reconnecting
        tokens = support.json_body(response) or {}
        if not tokens.get("access_token"):
            return None
        fresh = {"access_token": tokens["access_token"]}
        if tokens.get("refresh_token"):  # X rotates refresh tokens; the old one is spent
            fresh["refresh_token"] = tokens["refresh_token"]
        self.settings = {**self.settings, **fresh}
        return fresh

    # -- details -----------------------------------------------------------------------------
    def _upload(self, outgoing: Outgoing, index: int) -> str:
        key = f"x_media_{index}"
        if outgoing.state.get(key):
            return outgoing.state[key]  # uploaded by an earlier attempt (valid for a day)
        media = outgoing.media[index]
        files = {"media": (media.path.name, media.path.read_bytes(), media.content_type)}
        form = {"media_category": "tweet_image"}
        uploaded = support.json_body(self._call("POST", "/2/media/upload", files=files, data=form))
        media_id = support.created_id(((uploaded or {}).get("data") or {}).get("id"), "X")
        if media.alt_text:
            alt = {"id": media_id, "metadata": {"alt_text": {"text": media.alt_text[:1000]}}}
            self._call("POST", "/2/media/metadata", json=alt)
        self.checkpoint(key, media_id)
        return media_id

    def _url(self, tweet_id: str | int) -> str:
        return f"https://x.com/i/web/status/{tweet_id}"

    def _inbound(self, tweet: dict, author: dict) -> InboundItem:
        parent = _replied_to(tweet)
        handle = author.get("username", "")
        return InboundItem(
            external_id=str(tweet["id"]),
            kind="comment" if parent else "mention",
            author_name=author.get("name", handle),
            author_handle=f"@{handle}" if handle else str(tweet.get("author_id", "")),
            text=_plain_text(tweet),
            received_at=support.parse_time(tweet["created_at"]),
            url=f"https://x.com/{handle or 'i/web'}/status/{tweet['id']}",
            parent_external_id=parent,
            root_external_id=tweet.get("conversation_id"),
        )


def _message(body: dict) -> str:
    parts = [str(e.get("message")) for e in body.get("errors") or [] if e.get("message")]
    return "; ".join(parts) or str(body.get("detail") or body.get("title") or "")


def _reset_in(response: httpx.Response) -> float | None:
    reset = response.headers.get("x-rate-limit-reset", "").strip()
    if reset.isdigit():
        return max(0.0, float(reset) - time.time())
    return outbound_retry.retry_after(response)


def _replied_to(tweet: dict) -> str | None:
    for ref in tweet.get("referenced_tweets") or []:
        if ref.get("type") == "replied_to":
            return str(ref["id"])
    return None


def _plain_text(tweet: dict) -> str:
    """The text as it was written: t.co links expanded, X's HTML escaping undone."""
    text = tweet.get("text", "")
    for url in (tweet.get("entities") or {}).get("urls") or []:
        if url.get("url") and url.get("expanded_url"):
            text = text.replace(url["url"], url["expanded_url"])
    return html.unescape(text)
