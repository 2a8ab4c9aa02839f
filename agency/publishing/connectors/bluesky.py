"""Bluesky (AT Protocol XRPC on the account's PDS): ``pds_url``, ``handle``, ``app_password``.

- sessions: ``com.atproto.server.createSession`` once, then ``refreshSession``; the tokens are
  kept in a session store between jobs (Redis, encrypted), not one login per job;
- posts: ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` with a record key
  (TID) allocated and checkpointed *before* the call, so a retry re-uses it and
  ``com.atproto.repo.getRecord`` tells whether the first call landed;
- rich text: link and mention facets in UTF-8 byte offsets; replies carry root + parent refs;
- inbound: ``app.bsky.notification.listNotifications`` (replies and mentions).
"""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime

import httpx

from agency import outbound_retry
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
from agency.publishing.sessions import MemorySessionStore

POST = "app.bsky.feed.post"
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
AUTH_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AccountTakedown"}
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9][a-zA-Z0-9.-]*\.[a-zA-Z]{2,})")
_CLOCK_ID = random.randrange(1024)


def new_tid(now_us: int | None = None) -> str:
    """A record key: 53 bits of microseconds and 10 of clock id, base32-sortable (13 chars)."""
    value = ((now_us or time.time_ns() // 1000) << 10) | _CLOCK_ID
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _byte_span(text: str, start: int, end: int) -> dict[str, int]:
    return {
        "byteStart": len(text[:start].encode("utf-8")),
        "byteEnd": len(text[:end].encode("utf-8")),
    }


def split_uri(uri: str) -> tuple[str, str, str]:
    """``at://<did>/<collection>/<rkey>`` → its three parts."""
    parts = uri.removeprefix("at://").split("/")
    if len(parts) != 3:
        raise PublishError(ErrorClass.PERMANENT, f"Not a record URI: {uri}")
    return parts[0], parts[1], parts[2]


@register
class BlueskyConnector(Connector):
    network = "bluesky"
    label = "Bluesky"

    @classmethod
    def first_checkpoints(cls) -> dict[str, str]:
        return {"rkey": new_tid()}  # the record's key, committed before the record can exist

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sessions = MemorySessionStore()  # the engine gives a Redis-backed one

    @property
    def base(self) -> str:
        return (self.settings.get("pds_url") or "https://bsky.social").rstrip("/")

    # -- transport and sessions ----------------------------------------------------------
    def _raw(self, method: str, nsid: str, token: str | None = None, **kwargs) -> httpx.Response:  # noqa: ANN003
        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.http.request(method, f"{self.base}/xrpc/{nsid}", headers=headers, **kwargs)
        except Exception as exc:
            raise self.classify(exc) from exc

    def _login(self) -> dict:
        response = self._raw(
            "POST", "com.atproto.server.createSession",
            json={"identifier": self.settings.get("handle", ""),
                  "password": self.settings.get("app_password", "")},
        )  # fmt: skip
        if response.status_code >= 400:
            raise self.classify(response)
        session = response.json()
        self.sessions.set(session)
        return session

    def _session(self) -> dict:
        return self.sessions.get() or self._login()

    def _renew(self, session: dict) -> dict:
        """refreshSession with the refresh token; a new login when that has expired too."""
        response = self._raw("POST", "com.atproto.server.refreshSession", session.get("refreshJwt"))
        if response.status_code < 400:
            renewed = {**session, **response.json()}
            self.sessions.set(renewed)
            return renewed
        self.sessions.clear()
        return self._login()

    def _call(self, method: str, nsid: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        session = self._session()
        response = self._raw(method, nsid, session.get("accessJwt"), **kwargs)
        if _is_auth_error(response):
            response = self._raw(method, nsid, self._renew(session).get("accessJwt"), **kwargs)
        if response.status_code >= 400:
            raise self.classify(response)
        return response

    # -- the interface -------------------------------------------------------------------
    def verify(self) -> AccountInfo:
        session = self._login()
        return AccountInfo(
            handle=f"@{session.get('handle')}", display_name=session.get("handle", "")
        )

    def publish(self, outgoing: Outgoing) -> Published:
        return self._create(outgoing, reply=None)

    def publish_reply(self, outgoing: Outgoing) -> Published:
        if not outgoing.reply_to:
            raise PublishError(ErrorClass.PERMANENT, "A reply needs the post it answers.")
        parent = self._get_record(outgoing.reply_to)
        if parent is None:
            raise PublishError(
                ErrorClass.PERMANENT, f"The post to answer is gone: {outgoing.reply_to}"
            )
        parent_ref = {"uri": parent["uri"], "cid": parent["cid"]}
        root = ((parent.get("value") or {}).get("reply") or {}).get("root") or parent_ref
        return self._create(outgoing, reply={"root": root, "parent": parent_ref})

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        rkey = outgoing.state.get("rkey")
        if not rkey:
            return None
        session = self._session()
        found = self._get_record(f"at://{session['did']}/{POST}/{rkey}")
        if found is None:
            return None
        return self._published(session, found["uri"])

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        """Replies and mentions newer than ``cursor`` (the newest ``indexedAt`` seen)."""
        body = self._call(
            "GET", "app.bsky.notification.listNotifications", params={"limit": "50"}
        ).json()
        items, newest = [], cursor
        for note in body.get("notifications", []):
            if note.get("reason") not in ("reply", "mention"):
                continue
            if cursor and note.get("indexedAt", "") <= cursor:
                continue
            record, author = note.get("record") or {}, note.get("author") or {}
            reply = record.get("reply") or {}
            _did, _collection, rkey = split_uri(note["uri"])
            items.append(
                InboundItem(
                    external_id=note["uri"],
                    kind="comment" if note["reason"] == "reply" else "mention",
                    author_name=author.get("displayName") or "",
                    author_handle=author.get("handle", ""),
                    text=record.get("text", ""),
                    received_at=datetime.fromisoformat(
                        note.get("indexedAt", record.get("createdAt")).replace("Z", "+00:00")
                    ).astimezone(UTC),
                    url=f"https://bsky.app/profile/{author.get('handle')}/post/{rkey}",
                    parent_external_id=(reply.get("parent") or {}).get("uri"),
                    root_external_id=(reply.get("root") or {}).get("uri"),
                )
            )
            newest = max(newest or "", note.get("indexedAt", ""))
        items.sort(key=lambda i: i.received_at)
        return items, newest or None

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        if isinstance(result, BaseException):
            if isinstance(result, PublishError):
                return result
            error = support.transport_error(result)  # a read sent again is safe: retryable
            return PublishError(error.error_class, f"{self.base}: {error.message}")
        error, message = _error(result)
        status = result.status_code
        if status == 429:
            return PublishError(ErrorClass.RETRYABLE, message, retry_after=_reset(result))
        if status == 401 or error in AUTH_ERRORS:
            return PublishError(ErrorClass.AUTH_EXPIRED, message)
        if status >= 500:
            if result.request.method == "GET":
                return PublishError(ErrorClass.RETRYABLE, message)
            return PublishError(ErrorClass.UNKNOWN_OUTCOME, message)
        return PublishError(ErrorClass.PERMANENT, message)

    # -- helpers -------------------------------------------------------------------------
    def _create(self, outgoing: Outgoing, *, reply: dict | None) -> Published:
        session = self._session()
        rkey = outgoing.state.get("rkey")
        if not rkey:
            rkey = new_tid()
            self.checkpoint("rkey", rkey)  # committed before the record can exist
            outgoing.state["rkey"] = rkey
        record: dict[str, object] = {
            "$type": POST, "text": outgoing.text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }  # fmt: skip
        facets = self._facets(outgoing.text)
        if facets:
            record["facets"] = facets
        if reply:
            record["reply"] = reply
        if outgoing.media:
            record["embed"] = {
                "$type": "app.bsky.embed.images",
                "images": [
                    {"alt": m.alt_text, "image": self._upload(m.path.read_bytes(), m.content_type)}
                    for m in outgoing.media
                ],
            }
        body = {"repo": session["did"], "collection": POST, "rkey": rkey, "record": record}
        try:
            created = self._call("POST", "com.atproto.repo.createRecord", json=body).json()
        except PublishError as exc:
            if exc.error_class == ErrorClass.PERMANENT:
                # The key may be taken by our own earlier call that landed: look before failing.
                found = self.find_existing(outgoing)
                if found is not None:
                    return found
            raise
        return self._published(session, created["uri"])

    def _published(self, session: dict, uri: str) -> Published:
        _did, _collection, rkey = split_uri(uri)
        handle = session.get("handle") or self.settings.get("handle")
        return Published(external_id=uri, url=f"https://bsky.app/profile/{handle}/post/{rkey}")

    def _get_record(self, uri: str) -> dict | None:
        repo, collection, rkey = split_uri(uri)
        try:
            return self._call(
                "GET", "com.atproto.repo.getRecord",
                params={"repo": repo, "collection": collection, "rkey": rkey},
            ).json()  # fmt: skip
        except PublishError as exc:
            if exc.error_class == ErrorClass.PERMANENT:
                return None  # RecordNotFound
            raise

    def _upload(self, data: bytes, content_type: str) -> dict:
        response = self._call(
            "POST", "com.atproto.repo.uploadBlob", content=data,
            headers={"Content-Type": content_type},
        )  # fmt: skip
        return response.json()["blob"]

    def _facets(self, text: str) -> list[dict]:
        facets = [
            {"index": _byte_span(text, m.start(), m.end()),
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": m.group(0)}]}
            for m in _URL.finditer(text)
        ]  # fmt: skip
        for match in _MENTION.finditer(text):
            did = self._resolve(match.group(1))
            if did:
                facets.append(
                    {
                        "index": _byte_span(text, match.start(), match.end()),
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
                    }
                )
        return sorted(facets, key=lambda f: f["index"]["byteStart"])

    def _resolve(self, handle: str) -> str | None:
        response = self._raw("GET", "com.atproto.identity.resolveHandle", params={"handle": handle})
        return response.json().get("did") if response.status_code == 200 else None


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = str(body.get("error") or "")
        message = str(body.get("message") or error or f"HTTP {response.status_code}")
        return error, (f"{error}: {message}" if error and error != message else message)
    return "", f"HTTP {response.status_code}"


def _is_auth_error(response: httpx.Response) -> bool:
    return response.status_code in (400, 401) and _error(response)[0] in {
        "ExpiredToken",
        "InvalidToken",
    }


def _reset(response: httpx.Response) -> float | None:
    """``ratelimit-reset`` is a Unix time in seconds; else ``Retry-After``."""
    reset = response.headers.get("ratelimit-reset")
    if reset and reset.isdigit():
        return max(0.0, int(reset) - time.time())
    return outbound_retry.retry_after(response)
