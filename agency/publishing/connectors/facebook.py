"""Facebook Page (Graph API): ``POST /{page-id}/feed`` (message, link), ``/{page-id}/photos``
(``source`` upload, caption), replies via ``POST /{object-id}/comments``.

The Graph API takes no idempotency key. The attempt's start is checkpointed; after an unknown
outcome ``find_existing`` lists the Page's recent posts (or the parent's comments, for a
reply) and matches the exact text written by the Page since then. Graph's 506 "Duplicate
status message" on a retry means the earlier attempt landed: it is looked up, and only if it
cannot be found is the target failed with Graph's message (as the docs say: permanent).
"""

from __future__ import annotations

import re
from typing import Any

from agency.content import limits
from agency.publishing.connectors import graph, support
from agency.publishing.connectors.base import (
    AccountInfo,
    ErrorClass,
    InboundItem,
    Outgoing,
    Published,
    PublishError,
    register,
)

STARTED = "fb_started_at"
LINK_RE = re.compile(r"https?://\S+")
COMMENT_FIELDS = "id,message,created_time,from,parent{id},permalink_url"
INBOUND_FIELDS = (
    f"id,comments.filter(stream).order(reverse_chronological).limit(100){{{COMMENT_FIELDS}}}"
)
RECENT_POSTS = 25


@register
class FacebookPageConnector(support.AttemptStart, graph.GraphConnector):
    network = "facebook_page"
    label = "Facebook"
    started_key = STARTED

    @property
    def page_id(self) -> str:
        return str(self.settings.get("page_id", ""))

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        if len(outgoing.text) > limits.FACEBOOK_LIMIT:
            problems.append(f"Facebook allows {limits.FACEBOOK_LIMIT} characters in a post.")
        if not outgoing.text.strip() and not outgoing.media:
            problems.append("A Facebook post needs text or an image.")
        if len(outgoing.media) > 1:
            problems.append("A Facebook Page post is published with at most one image here.")
        return problems

    def verify(self) -> AccountInfo:
        me = self.call("GET", "me", params={"fields": "id,name,picture"})
        if str(me.get("id")) != self.page_id:
            raise PublishError(
                ErrorClass.PERMANENT,
                "This access token belongs to another Page; use the token of this Page.",
            )
        picture = ((me.get("picture") or {}).get("data") or {}).get("url")
        return AccountInfo(
            handle=me.get("name", ""), display_name=me.get("name", ""), avatar_url=picture
        )

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        support.require(not problems, " ".join(problems))
        self.mark_start(outgoing)
        try:
            if outgoing.media:
                media = outgoing.media[0]
                files = {"source": (media.path.name, media.path.read_bytes(), media.content_type)}
                form = {"caption": outgoing.text, "published": "true"}
                if media.alt_text:
                    form["alt_text_custom"] = media.alt_text
                made = self.call("POST", f"{self.page_id}/photos", data=form, files=files)
                post_id = support.created_id(made.get("post_id") or made.get("id"), "Facebook")
            else:
                form = {"message": outgoing.text}
                link = LINK_RE.search(outgoing.text)
                if link:
                    form["link"] = link.group(0)
                made = self.call("POST", f"{self.page_id}/feed", data=form)
                post_id = support.created_id(made.get("id"), "Facebook")
        except PublishError as error:
            return self._after_duplicate(error, outgoing)
        return Published(external_id=post_id, url=f"https://www.facebook.com/{post_id}")

    def publish_reply(self, outgoing: Outgoing) -> Published:
        support.require(bool(outgoing.reply_to), "A reply needs the post or comment it answers.")
        support.require(bool(outgoing.text.strip()), "A reply needs text.")
        self.mark_start(outgoing)
        try:
            made = self.call(
                "POST", f"{outgoing.reply_to}/comments", data={"message": outgoing.text}
            )
        except PublishError as error:
            return self._after_duplicate(error, outgoing)
        return Published(external_id=support.created_id(made.get("id"), "Facebook"), url=None)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        since = self.start_of(outgoing)
        if since is None:
            return None  # no attempt reached Facebook
        if outgoing.reply_to:
            params = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": "100",
            }
            listed = self.call("GET", f"{outgoing.reply_to}/comments", params=params)
            for comment in listed.get("data") or []:
                if self._ours(comment, outgoing, since, "message"):
                    return Published(external_id=str(comment["id"]), url=None)
            return None
        params = {
            "fields": "id,message,created_time,from,permalink_url",
            "limit": str(RECENT_POSTS),
        }
        params["since"] = str(int(since.timestamp()))
        for post in self.call("GET", f"{self.page_id}/feed", params=params).get("data") or []:
            if self._ours(post, outgoing, since, "message"):
                url = post.get("permalink_url") or f"https://www.facebook.com/{post['id']}"
                return Published(external_id=str(post["id"]), url=url)
        return None

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        seen = support.TimeCursor.load(cursor)
        params = {"fields": INBOUND_FIELDS, "limit": str(RECENT_POSTS)}
        found: list[InboundItem] = []
        for post in self.call("GET", f"{self.page_id}/feed", params=params).get("data") or []:
            for comment in (post.get("comments") or {}).get("data") or []:
                author = comment.get("from") or {}
                when = support.parse_time(comment["created_time"])
                if str(author.get("id")) == self.page_id or not seen.is_new(comment["id"], when):
                    continue  # the Page's own replies are not inbox material
                parent = (comment.get("parent") or {}).get("id") or post["id"]
                found.append(
                    InboundItem(
                        external_id=str(comment["id"]),
                        kind="comment",
                        author_name=author.get("name", ""),
                        author_handle=str(author.get("id", "")),
                        text=comment.get("message", ""),
                        received_at=when,
                        url=comment.get("permalink_url"),
                        parent_external_id=str(parent),
                        root_external_id=str(post["id"]),
                    )
                )
        found.sort(key=lambda item: (item.received_at, item.external_id))
        if not found:
            return [], cursor
        advanced = seen.advanced((i.external_id, i.received_at) for i in found)
        return found, advanced.dump()

    # -- details -----------------------------------------------------------------------------
    def _ours(self, item: dict[str, Any], outgoing: Outgoing, since, field: str) -> bool:
        author = str((item.get("from") or {}).get("id", self.page_id))
        if author != self.page_id or (item.get(field) or "").strip() != outgoing.text.strip():
            return False
        return support.parse_time(item["created_time"]) >= since

    def _after_duplicate(self, error: PublishError, outgoing: Outgoing) -> Published:
        if graph.error_code(error) == graph.DUPLICATE_POST:
            found = self.find_existing(outgoing)
            if found is not None:
                return found
        raise error
