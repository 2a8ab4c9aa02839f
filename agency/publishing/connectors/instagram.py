"""Instagram (Graph API content publishing): container → status → ``media_publish``.

1. ``POST /{ig-user-id}/media`` (``image_url``, ``caption``) makes a container; its id is
   CHECKPOINTED at once, before anything is published.
2. ``GET /{container-id}?fields=status_code`` is polled until ``FINISHED`` (``ERROR`` fails the
   target; ``EXPIRED`` — older than 24 h — is replaced by a new container).
3. ``POST /{ig-user-id}/media_publish`` (``creation_id``) publishes it.

A retry that carries a stored container never creates a second one, and a container whose
status is already ``PUBLISHED`` is never published again: ``find_existing`` lists the
account's media for it instead. Comment replies: ``POST /{ig-comment-id}/replies``; a reply
to the post itself is a comment, ``POST /{ig-media-id}/comments``.

Instagram downloads the image itself, so it needs a public address for it: the image's path
under ``MEDIA_ROOT`` appended to ``REGIA_PUBLIC_MEDIA_URL`` (the channel settings may carry
``public_media_url``/``media_root`` instead). See README "Publishing to Instagram".
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from flask import current_app, has_app_context

from agency.content import limits
from agency.publishing.connectors import graph, support
from agency.publishing.connectors.base import (
    AccountInfo,
    ErrorClass,
    InboundItem,
    MediaFile,
    Outgoing,
    Published,
    PublishError,
    register,
)

CONTAINER = "ig_container"
STARTED = "ig_started_at"
MAX_HASHTAGS = 30
REPLY_FIELDS = "id,text,timestamp,username"
INBOUND_FIELDS = f"id,comments.limit(50){{{REPLY_FIELDS},replies{{{REPLY_FIELDS}}}}}"


def public_media_url(media: MediaFile, settings: dict[str, str]) -> str:
    """The public address Instagram fetches ``media`` from (REGIA_PUBLIC_MEDIA_URL + path)."""
    base = settings.get("public_media_url") or os.environ.get("REGIA_PUBLIC_MEDIA_URL", "")
    if not base:
        raise PublishError(
            ErrorClass.PERMANENT,
            "Instagram fetches images from a public address: the operator must set "
            "REGIA_PUBLIC_MEDIA_URL.",
        )
    root = settings.get("media_root") or (
        str(current_app.config["REGIA"].media_root) if has_app_context() else ""
    )
    try:
        relative = media.path.resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError):
        relative = media.path.name
    return f"{base.rstrip('/')}/{quote(relative)}"


@register
class InstagramConnector(support.AttemptStart, graph.GraphConnector):
    network = "instagram"
    label = "Instagram"
    started_key = STARTED
    poll_seconds = 2.0  # between container status checks
    poll_attempts = 15

    @property
    def user_id(self) -> str:
        return str(self.settings.get("ig_user_id", ""))

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        if len(outgoing.text) > limits.INSTAGRAM_LIMIT:
            problems.append(f"Instagram allows {limits.INSTAGRAM_LIMIT} characters in a caption.")
        if outgoing.text.count("#") > MAX_HASHTAGS:
            problems.append(f"Instagram allows at most {MAX_HASHTAGS} hashtags.")
        if outgoing.reply_to is not None:
            return problems  # a comment reply: text only
        if not outgoing.media:
            problems.append("Instagram needs an image: add one to the post.")
        elif len(outgoing.media) > 1:
            problems.append("Instagram posts are published with one image here.")
        return problems

    def image_url(self, media: MediaFile) -> str:
        return public_media_url(media, self.settings)

    def verify(self) -> AccountInfo:
        me = self.call(
            "GET", self.user_id, params={"fields": "id,username,name,profile_picture_url"}
        )
        return AccountInfo(
            handle=f"@{me.get('username', '')}",
            display_name=me.get("name", ""),
            avatar_url=me.get("profile_picture_url"),
        )

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        support.require(not problems, " ".join(problems))
        container = outgoing.state.get(CONTAINER)
        status = self._status(container) if container else None
        if status == "PUBLISHED":
            found = self.find_existing(outgoing)
            if found is None:
                raise PublishError(
                    ErrorClass.PERMANENT,
                    "Instagram published this post, but "
                    "it is not among the account's media any more.",
                )
            return found
        if status == "ERROR":
            raise PublishError(ErrorClass.PERMANENT, "Instagram could not process the image.")
        if container is None or status == "EXPIRED":
            self.mark_start(outgoing)
            container = self._create_container(outgoing)
        self._wait_until_finished(container)
        made = self.call("POST", f"{self.user_id}/media_publish", data={"creation_id": container})
        media_id = support.created_id(made.get("id"), "Instagram")
        return Published(external_id=media_id, url=self._permalink(media_id))

    def publish_reply(self, outgoing: Outgoing) -> Published:
        support.require(bool(outgoing.reply_to), "A reply needs the comment it answers.")
        support.require(bool(outgoing.text.strip()), "A reply needs text.")
        self.mark_start(outgoing)
        target, edge = self._reply_target(outgoing)
        made = self.call("POST", f"{target}/{edge}", data={"message": outgoing.text})
        return Published(external_id=support.created_id(made.get("id"), "Instagram"), url=None)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        since = self.start_of(outgoing)
        if outgoing.reply_to:
            return self._find_reply(outgoing, since) if since else None
        container = outgoing.state.get(CONTAINER)
        if not container or self._status(container) != "PUBLISHED":
            return None  # nothing can have been published without this container
        params = {"fields": "id,caption,timestamp,permalink", "limit": "25"}
        for media in self.call("GET", f"{self.user_id}/media", params=params).get("data") or []:
            if (media.get("caption") or "").strip() != outgoing.text.strip():
                continue
            if since is None or support.parse_time(media["timestamp"]) >= since:
                return Published(external_id=str(media["id"]), url=media.get("permalink"))
        return None

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        seen = support.TimeCursor.load(cursor)
        me = self.call("GET", self.user_id, params={"fields": "username"}).get("username")
        params = {"fields": INBOUND_FIELDS, "limit": "10"}
        found: list[InboundItem] = []
        for media in self.call("GET", f"{self.user_id}/media", params=params).get("data") or []:
            for comment in (media.get("comments") or {}).get("data") or []:
                found += self._inbound(comment, media["id"], media["id"], me, seen)
                for reply in (comment.get("replies") or {}).get("data") or []:
                    found += self._inbound(reply, comment["id"], media["id"], me, seen)
        found.sort(key=lambda item: (item.received_at, item.external_id))
        if not found:
            return [], cursor
        return found, seen.advanced((i.external_id, i.received_at) for i in found).dump()

    # -- details -----------------------------------------------------------------------------
    def _status(self, container: str) -> str:
        return str(self.call("GET", container, params={"fields": "status_code"}).get("status_code"))

    def _create_container(self, outgoing: Outgoing) -> str:
        form = {"image_url": self.image_url(outgoing.media[0]), "caption": outgoing.text}
        if outgoing.media[0].alt_text:
            form["alt_text"] = outgoing.media[0].alt_text
        made = self.call("POST", f"{self.user_id}/media", data=form)
        container = support.created_id(made.get("id"), "Instagram")
        self.checkpoint(CONTAINER, container)
        return container

    def _wait_until_finished(self, container: str) -> None:
        for attempt in range(self.poll_attempts):
            status = self._status(container)
            if status == "FINISHED":
                return
            if status == "ERROR":
                raise PublishError(ErrorClass.PERMANENT, "Instagram could not process the image.")
            if status == "EXPIRED":  # the next attempt makes a new container
                raise PublishError(ErrorClass.RETRYABLE, "The Instagram container expired.")
            if attempt + 1 < self.poll_attempts:
                time.sleep(self.poll_seconds)
        raise PublishError(
            ErrorClass.RETRYABLE, "Instagram is still processing the image.", retry_after=30.0
        )

    def _permalink(self, media_id: str) -> str | None:
        try:
            return self.call("GET", media_id, params={"fields": "permalink"}).get("permalink")
        except PublishError:
            return None  # published all the same; the link is a nicety

    def _find_reply(self, outgoing: Outgoing, since: datetime) -> Published | None:
        me = self.call("GET", self.user_id, params={"fields": "username"}).get("username")
        target, edge = self._reply_target(outgoing)
        listed = self.call("GET", f"{target}/{edge}", params={"fields": REPLY_FIELDS})
        for reply in listed.get("data") or []:
            mine = reply.get("username") == me
            same = reply.get("text", "").strip() == outgoing.text.strip()
            recent = support.parse_time(reply["timestamp"]) >= since
            if mine and same and recent:
                return Published(external_id=str(reply["id"]), url=None)
        return None

    def _reply_target(self, outgoing: Outgoing) -> tuple[str, str]:
        """Where a reply goes: ``/{comment}/replies`` (replies nest one level only, so a reply
        to a reply answers its parent comment), or ``/{media}/comments`` for the post itself."""
        parent = str(outgoing.reply_to)
        if outgoing.reply_root == parent:
            return parent, "comments"
        try:
            comment = self.call("GET", parent, params={"fields": "id,parent_id"})
        except PublishError as error:
            if error.error_class is not ErrorClass.PERMANENT or outgoing.reply_root:
                raise
            return parent, "comments"  # not a comment (no parent_id field): our media
        return str(comment.get("parent_id") or parent), "replies"

    def _inbound(
        self, item: dict, parent: str, root: str, me: str | None, seen: support.TimeCursor
    ) -> list[InboundItem]:
        when = support.parse_time(item["timestamp"])
        if item.get("username") == me or not seen.is_new(str(item["id"]), when):
            return []
        return [
            InboundItem(
                external_id=str(item["id"]),
                kind="comment",
                author_name=item.get("username", ""),
                author_handle=f"@{item.get('username', '')}",
                text=item.get("text", ""),
                received_at=when,
                parent_external_id=parent,
                root_external_id=root,
            )
        ]
