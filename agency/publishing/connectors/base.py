"""The one interface every network connector implements (DESIGN.md §7).

A connector is built per channel from its decrypted settings (``connection_settings``) and the
shared outbound client; it never touches the database. What must survive a crash *before* a
network call (an idempotency key, a pre-allocated record key, an Instagram container id) is
handed to ``checkpoint``, which the engine persists and commits at once; a retry receives it
back in ``Outgoing.state``. What needs no network (``first_checkpoints``) the engine commits
with the claim instead.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import httpx

from agency.content import limits
from agency.outbound import OutboundClient


class ErrorClass(enum.StrEnum):
    RETRYABLE = "retryable"  # 429, transient: back off and try again
    PERMANENT = "permanent"  # the network refused this content: fail the target, show why
    AUTH_EXPIRED = "auth_expired"  # refresh once if the network allows, else needs_reconnect
    UNKNOWN_OUTCOME = "unknown_outcome"  # sent, no answer: look it up, never blind re-post


class PublishError(Exception):
    """A classified failure; ``message`` is the network's own words, shown on the post."""

    def __init__(
        self, error_class: ErrorClass, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.error_class = ErrorClass(error_class)
        self.message = message
        self.retry_after = retry_after  # seconds, from the network's reset header when given


@dataclass(frozen=True)
class MediaFile:
    path: Path
    content_type: str
    alt_text: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One target to publish: the approved revision's text for this channel, and its media."""

    target_id: str
    idempotency_key: str  # stable per (target, revision); stored before the first call
    text: str
    media: tuple[MediaFile, ...] = ()
    reply_to: str | None = None  # the parent's external id, for replies
    reply_root: str | None = None  # thread root's external id where the network needs it
    state: dict[str, str] = field(default_factory=dict)  # what earlier attempts checkpointed


@dataclass(frozen=True)
class Published:
    external_id: str
    url: str | None


@dataclass(frozen=True)
class AccountInfo:
    """Who the credentials belong to, as the network says (shown as "Connected as …")."""

    handle: str
    display_name: str = ""
    avatar_url: str | None = None


@dataclass(frozen=True)
class InboundItem:
    external_id: str
    kind: str  # "comment" | "mention" | "message"
    author_name: str
    author_handle: str
    text: str
    received_at: datetime
    url: str | None = None
    parent_external_id: str | None = None  # what it answers (our post, or another comment)
    root_external_id: str | None = None  # the thread root, where the network has one


class Connector:
    """Base class; one subclass per network, registered with :func:`register`."""

    network: ClassVar[str]
    label: ClassVar[str] = "The network"  # in validation messages
    supports_replies: ClassVar[bool] = True
    supports_inbound: ClassVar[bool] = True

    def __init__(
        self,
        settings: dict[str, str],
        http: OutboundClient,
        checkpoint: Callable[[str, str], None] = lambda key, value: None,
    ) -> None:
        self.settings = settings
        self.http = http
        self.checkpoint = checkpoint

    @classmethod
    def first_checkpoints(cls) -> dict[str, str]:
        """What this connector checkpoints before its first call that neither depends on the
        network nor on when the call is made (a record key it allocates itself). The engine
        writes it with the claim, in the commit that precedes any call, and hands it back in
        ``Outgoing.state``, where the connector finds it and checkpoints nothing itself: the
        attempt saves a transaction. Not for times (Mastodon's send time, an attempt's start):
        a claim's time is not the call's. Empty by default."""
        return {}

    def validate(self, outgoing: Outgoing) -> list[str]:
        """Why the network would refuse ``outgoing`` (empty: publishable), checked before any
        call. By default the editor's own rules (``agency.content.limits``): the network's
        character count and limit, and Instagram's image (not for replies); connectors add
        their own rules."""
        counted = limits.count(self.network, outgoing.text, self.settings)
        problems = []
        if not counted.ok:
            problems.append(
                f"{self.label} allows {counted.limit} characters; this text counts {counted.used}."
            )
        if outgoing.reply_to is None and limits.needs_image(self.network) and not outgoing.media:
            problems.append(f"{self.label} needs an image: add one to the post.")
        return problems

    def verify(self) -> AccountInfo:
        """Check the credentials with the network's "who am I" call; raise PublishError."""
        raise NotImplementedError

    def publish(self, outgoing: Outgoing) -> Published:
        raise NotImplementedError

    def publish_reply(self, outgoing: Outgoing) -> Published:
        raise NotImplementedError

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        """After an unknown outcome: the post if the network has it, else ``None``."""
        raise NotImplementedError

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        """New comments/mentions since ``cursor``, oldest first, and the next cursor."""
        raise NotImplementedError

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        """Turn a failed response or transport error into a PublishError."""
        raise NotImplementedError

    def refresh_credentials(self) -> dict[str, str] | None:
        """New secrets after AUTH_EXPIRED where the network allows a refresh, else ``None``."""
        return None


CONNECTORS: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    CONNECTORS[cls.network] = cls
    return cls


def connector_class(network: str) -> type[Connector]:
    return CONNECTORS[network]
