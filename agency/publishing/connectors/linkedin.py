"""LinkedIn (Posts API, versioned ``/rest``): organization posts, images, comments.

Every call carries ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version: 2.0.0``;
URNs in paths and query strings are URL-encoded as Rest.li 2.0 requires. ``POST /rest/posts``
answers 201 with the new post's URN in the ``x-restli-id`` header. ``commentary`` is in
LinkedIn's "little text" format: its reserved characters are backslash-escaped and hashtags
written as ``{hashtag|\\#|word}`` so they stay hashtags. LinkedIn refuses the same content
twice with ``422 DUPLICATE_POST`` naming the existing post ("Content is a duplicate of
urn:li:share:…"): that post is ours, already published. After an unknown outcome
``find_existing`` lists the organization's recent posts for the same commentary.
Images: ``POST /rest/images?action=initializeUpload``, then ``PUT`` the bytes to the upload URL.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from agency import outbound_retry
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

DEFAULT_API = "https://api.linkedin.com"
LINKEDIN_VERSION = "202510"  # YYYYMM; a channel may pin another with ``linkedin_version``
STARTED = "li_started_at"
IMAGE = "li_image"
RESERVED = re.compile(r"([|{}@\[\]()<>#\\*_~])")
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
DUPLICATE_OF = re.compile(r"duplicate of (urn:li:[a-zA-Z]+:\d+)")
COMMENT_OBJECT = re.compile(r"^urn:li:comment:\((urn:li:[a-zA-Z]+:\d+),")
RECENT_POSTS = 10


def little_text(text: str) -> str:
    """``text`` as LinkedIn's little text format: reserved characters escaped, hashtags kept."""
    parts = []
    last = 0
    for match in HASHTAG.finditer(text):
        parts.append(RESERVED.sub(r"\\\1", text[last : match.start()]))
        word = RESERVED.sub(r"\\\1", match.group(1))
        parts.append(f"{{hashtag|\\#|{word}}}")
        last = match.end()
    parts.append(RESERVED.sub(r"\\\1", text[last:]))
    return "".join(parts)


def encode(urn: str) -> str:
    return quote(urn, safe="")


@register
class LinkedInConnector(support.AttemptStart, Connector):
    network = "linkedin"
    label = "LinkedIn"
    started_key = STARTED

    @property
    def api(self) -> str:
        return (self.settings.get("api_base") or DEFAULT_API).rstrip("/")

    @property
    def author(self) -> str:
        return str(self.settings.get("organization_urn", ""))

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {self.settings.get('access_token', '')}",
            "LinkedIn-Version": self.settings.get("linkedin_version") or LINKEDIN_VERSION,
            "X-Restli-Protocol-Version": "2.0.0",
            **kwargs.pop("headers", {}),
        }
        target = url if url.startswith("http") else f"{self.api}{url}"
        try:
            response = self.http.request(method, target, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise self.classify(exc) from exc
        if not response.is_success:
            raise self.classify(response)
        return response

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        if len(outgoing.text) > limits.LINKEDIN_LIMIT:
            problems.append(f"LinkedIn allows {limits.LINKEDIN_LIMIT} characters in a post.")
        if not outgoing.text.strip() and not outgoing.media:
            problems.append("A LinkedIn post needs text or an image.")
        if len(outgoing.media) > 1:
            problems.append("LinkedIn posts are published with at most one image here.")
        return problems

    def verify(self) -> AccountInfo:
        if self.author.startswith("urn:li:person:"):  # posting as the member ("Connect with")
            me = support.json_body(self._call("GET", "/v2/userinfo")) or {}
            if f"urn:li:person:{me.get('sub')}" != self.author:
                raise PublishError(
                    ErrorClass.PERMANENT, "This access token belongs to another LinkedIn member."
                )
            name = str(me.get("name") or "")
            return AccountInfo(handle=name, display_name=name, avatar_url=me.get("picture"))
        org_id = self.author.rsplit(":", 1)[-1]
        org = support.json_body(self._call("GET", f"/rest/organizations/{org_id}")) or {}
        name = org.get("localizedName", "")
        return AccountInfo(handle=org.get("vanityName") or name, display_name=name)

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        support.require(not problems, " ".join(problems))
        body: dict[str, Any] = {
            "author": self.author,
            "commentary": little_text(outgoing.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if outgoing.media:
            media = {"id": self._upload(outgoing)}
            if outgoing.media[0].alt_text:
                media["altText"] = outgoing.media[0].alt_text
            body["content"] = {"media": media}
        self.mark_start(outgoing)
        try:
            response = self._call("POST", "/rest/posts", json=body)
        except PublishError as error:
            found = self._duplicate_of(error) or (
                self.find_existing(outgoing) if "DUPLICATE_POST" in error.message else None
            )
            if found is None:
                raise
            return found
        urn = support.created_id(response.headers.get("x-restli-id"), "LinkedIn")
        return Published(external_id=urn, url=_post_url(urn))

    def publish_reply(self, outgoing: Outgoing) -> Published:
        support.require(bool(outgoing.reply_to), "A reply needs the post or comment it answers.")
        support.require(bool(outgoing.text.strip()), "A reply needs text.")
        parent = outgoing.reply_to or ""
        body: dict[str, Any] = {
            "actor": self.author,
            "object": _thread_of(parent, outgoing.reply_root),
            "message": {"text": outgoing.text},
        }
        if parent.startswith("urn:li:comment:"):
            body["parentComment"] = parent
        self.mark_start(outgoing)
        made = self._call("POST", f"/rest/socialActions/{encode(parent)}/comments", json=body)
        data = support.json_body(made) or {}
        made_id = made.headers.get("x-restli-id")  # Rest.li may answer with the id alone
        built = f"urn:li:comment:({body['object']},{made_id})" if made_id else None
        urn = support.created_id(data.get("commentUrn") or built, "LinkedIn")
        return Published(external_id=urn, url=None)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        since = self.start_of(outgoing)
        if since is None:
            return None  # no attempt reached LinkedIn
        if outgoing.reply_to:
            for comment in self._comments(outgoing.reply_to):
                mine = comment.get("actor") == self.author
                recent = _created(comment) >= since
                if mine and recent and _comment_text(comment) == outgoing.text:
                    return Published(external_id=comment.get("commentUrn", ""), url=None)
            return None
        wanted = little_text(outgoing.text)
        for post in self._recent_posts():
            if post.get("commentary") != wanted:
                continue
            created = support.utc_from_epoch(post.get("createdAt", 0) / 1000)
            if created >= since:
                return Published(external_id=post["id"], url=_post_url(post["id"]))
        return None

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        seen = support.TimeCursor.load(cursor)
        found: list[InboundItem] = []
        for post in self._recent_posts():
            for comment in self._comments(post["id"]):
                found += self._inbound(comment, post["id"], seen)
                if (comment.get("commentsSummary") or {}).get("aggregatedTotalComments"):
                    for reply in self._comments(comment["commentUrn"]):
                        found += self._inbound(reply, post["id"], seen)
        found.sort(key=lambda item: (item.received_at, item.external_id))
        if not found:
            return [], cursor
        return found, seen.advanced((i.external_id, i.received_at) for i in found).dump()

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        if isinstance(result, BaseException):
            return support.transport_error(result)
        body = support.json_body(result) or {}
        message = str(body.get("message") or f"LinkedIn answered HTTP {result.status_code}")
        codes = [e.get("code") for e in (body.get("errorDetails") or {}).get("inputErrors") or []]
        if body.get("code"):
            codes.insert(0, body["code"])
        if codes:
            message = f"{message} ({', '.join(str(c) for c in codes if c)})"
        if result.status_code == 429:
            wait = outbound_retry.retry_after(result)
            return PublishError(ErrorClass.RETRYABLE, message, retry_after=wait)
        return PublishError(support.status_class(result), message)

    # -- details -----------------------------------------------------------------------------
    def _upload(self, outgoing: Outgoing) -> str:
        if outgoing.state.get(IMAGE):
            return outgoing.state[IMAGE]
        init = {"initializeUploadRequest": {"owner": self.author}}
        answer = self._call("POST", "/rest/images?action=initializeUpload", json=init)
        value = (support.json_body(answer) or {}).get("value") or {}
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not upload_url or not image:
            raise PublishError(ErrorClass.RETRYABLE, "LinkedIn gave no image upload address.")
        media = outgoing.media[0]
        headers = {"Content-Type": media.content_type}
        self._call("PUT", upload_url, content=media.path.read_bytes(), headers=headers)
        self.checkpoint(IMAGE, image)
        return image

    def _duplicate_of(self, error: PublishError) -> Published | None:
        match = DUPLICATE_OF.search(error.message)
        if "DUPLICATE_POST" not in error.message or match is None:
            return None
        return Published(external_id=match.group(1), url=_post_url(match.group(1)))

    def _recent_posts(self) -> list[dict]:
        query = f"?q=author&author={encode(self.author)}&count={RECENT_POSTS}&sortBy=CREATED"
        return (support.json_body(self._call("GET", f"/rest/posts{query}")) or {}).get(
            "elements"
        ) or []

    def _comments(self, urn: str) -> list[dict]:
        listed = self._call("GET", f"/rest/socialActions/{encode(urn)}/comments?count=100")
        return (support.json_body(listed) or {}).get("elements") or []

    def _inbound(self, comment: dict, post: str, seen: support.TimeCursor) -> list[InboundItem]:
        urn, when = comment.get("commentUrn", ""), _created(comment)
        if comment.get("actor") == self.author or not seen.is_new(urn, when):
            return []
        actor = str(comment.get("actor", ""))
        return [
            InboundItem(
                external_id=urn,
                kind="comment",
                author_name=actor,
                author_handle=actor,
                text=_comment_text(comment),
                received_at=when,
                url=_post_url(post),
                parent_external_id=comment.get("parentComment") or post,
                root_external_id=post,
            )
        ]


def _post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


def _thread_of(parent: str, root: str | None) -> str:
    """The post (activity) a comment belongs to: ``reply_root``, or read from a comment URN."""
    match = COMMENT_OBJECT.match(parent)
    return root or (match.group(1) if match else parent)


def _comment_text(comment: dict) -> str:
    return str((comment.get("message") or {}).get("text", ""))


def _created(comment: dict) -> datetime:
    return support.utc_from_epoch((comment.get("created") or {}).get("time", 0) / 1000)
