"""Helpers the connectors share (not a connector itself).

- ``transport_error``: a transport exception classified as DESIGN.md §7 says (a request that
  may have reached the network is an unknown outcome unless it was a read);
- ``status_class``: the default class of an HTTP status for networks that mean what they say;
- ``TimeCursor``: an inbound cursor "newest timestamp seen, and the ids seen at it", for
  networks that page by time only, so fetching the same page twice yields nothing new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from agency import outbound_retry
from agency.publishing.connectors.base import ErrorClass, Outgoing, PublishError

_OUTCOME_CLASS = {
    outbound_retry.Outcome.RETRY: ErrorClass.RETRYABLE,
    outbound_retry.Outcome.UNKNOWN: ErrorClass.UNKNOWN_OUTCOME,
    outbound_retry.Outcome.AUTH: ErrorClass.AUTH_EXPIRED,
    outbound_retry.Outcome.PERMANENT: ErrorClass.PERMANENT,
}


def is_read(result: httpx.Response | BaseException) -> bool:
    """True when the request behind ``result`` was a GET/HEAD (safe to send again)."""
    try:
        request = result.request  # type: ignore[union-attr]
    except (AttributeError, RuntimeError):
        return False
    return request is not None and request.method in ("GET", "HEAD")


def transport_error(exc: BaseException) -> PublishError:
    outcome = outbound_retry.classify(exc, idempotent=is_read(exc))
    if outcome is outbound_retry.Outcome.SUCCESS:  # pragma: no cover - exceptions never succeed
        outcome = outbound_retry.Outcome.PERMANENT
    return PublishError(_OUTCOME_CLASS[outcome], f"{type(exc).__name__}: {exc}".strip(": "))


def status_class(response: httpx.Response) -> ErrorClass:
    outcome = outbound_retry.classify(response, idempotent=is_read(response))
    if outcome is outbound_retry.Outcome.SUCCESS:
        return ErrorClass.PERMANENT  # a 2xx we could not understand: do not retry blindly
    return _OUTCOME_CLASS[outcome]


def json_body(response: httpx.Response) -> Any:
    """The JSON body, or None when there is none or it is not JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def utc_from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse_time(value: str) -> datetime:
    """ISO 8601 as the networks write it (``Z``, ``+00:00`` or Graph's ``+0000``), aware UTC."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_z(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class TimeCursor:
    """Newest item time seen (epoch milliseconds) and the ids seen at exactly that time."""

    millis: int = 0
    ids: tuple[str, ...] = ()

    @classmethod
    def load(cls, cursor: str | None) -> TimeCursor:
        if not cursor:
            return cls()
        try:
            data = json.loads(cursor)
            return cls(int(data["t"]), tuple(str(i) for i in data.get("ids", ())))
        except (ValueError, KeyError, TypeError):
            return cls()  # an unreadable cursor restarts from what the network still lists

    def dump(self) -> str:
        return json.dumps({"t": self.millis, "ids": list(self.ids)}, separators=(",", ":"))

    def is_new(self, item_id: str, when: datetime) -> bool:
        millis = int(when.timestamp() * 1000)
        return millis > self.millis or (millis == self.millis and item_id not in self.ids)

    def advanced(self, seen: Iterable[tuple[str, datetime]]) -> TimeCursor:
        millis, ids = self.millis, set(self.ids)
        for item_id, when in seen:
            stamp = int(when.timestamp() * 1000)
            if stamp > millis:
                millis, ids = stamp, {item_id}
            elif stamp == millis:
                ids.add(item_id)
        return TimeCursor(millis, tuple(sorted(ids)))


def created_id(value: object, network: str) -> str:
    """The id of what a create call made; a 2xx without one is an unknown outcome (look it up)."""
    if value is None or value == "":
        raise PublishError(
            ErrorClass.UNKNOWN_OUTCOME, f"{network} accepted the request but gave no id."
        )
    return str(value)


class AttemptStart:
    """Mixin for connectors without idempotency keys: when an attempt started is checkpointed
    right before the create call, and ``find_existing`` only looks for posts made since then.
    With no start recorded nothing was sent, so there is nothing to find (an older post with
    the same text is not this target's). Not a ``first_checkpoints`` value: written with the
    claim, it would date from attempts that never reached the create call (a failed media
    upload, a channel to reconnect, a retry days later), and widen the search to posts that
    are not this target's."""

    started_key: ClassVar[str]
    lookback: ClassVar[timedelta] = timedelta(seconds=60)  # clocks differ between hosts

    def mark_start(self, outgoing: Outgoing) -> None:
        value = outgoing.state.get(self.started_key) or iso_z(datetime.now(UTC))
        if self.started_key not in outgoing.state:
            self.checkpoint(self.started_key, value)  # type: ignore[attr-defined]
        self.__dict__.setdefault("_starts", {})[outgoing.target_id] = value

    def start_of(self, outgoing: Outgoing) -> datetime | None:
        value = outgoing.state.get(self.started_key) or self.__dict__.get("_starts", {}).get(
            outgoing.target_id
        )
        return parse_time(value) - self.lookback if value else None


def require(condition: bool, message: str) -> None:
    """Fail a target permanently before any network call (our own validation)."""
    if not condition:
        raise PublishError(ErrorClass.PERMANENT, message)
