"""The outbound retry policy: what a response or an error from ``OutboundClient.request``
means (``classify``), and how long to wait before trying again (``RetryPolicy``,
``retry_after``)."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from agency.outbound import OutboundError


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    RETRY = "retry"  # not processed (connect failed, 429, 408): safe to send again later
    UNKNOWN = "unknown"  # may have been processed: reconcile (look it up), never blind re-send
    AUTH = "auth"  # credentials refused: the channel needs reconnecting
    PERMANENT = "permanent"  # will not succeed as is


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def classify(result: httpx.Response | BaseException, *, idempotent: bool = False) -> Outcome:
    """What to do after a response or an exception from ``OutboundClient.request``.

    A timeout or 5xx after the request was sent is UNKNOWN unless the request is idempotent
    (a GET, or a POST carrying an idempotency key the remote honours).
    """
    if isinstance(result, BaseException):
        if isinstance(result, OutboundError | httpx.InvalidURL | httpx.UnsupportedProtocol):
            return Outcome.PERMANENT
        if isinstance(result, _NOT_SENT):
            return Outcome.RETRY
        if isinstance(result, httpx.TransportError):
            return Outcome.RETRY if idempotent else Outcome.UNKNOWN
        return Outcome.PERMANENT
    status = result.status_code
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status in (408, 429):
        return Outcome.RETRY
    if status == 401:
        return Outcome.AUTH
    if status >= 500:
        return Outcome.RETRY if idempotent else Outcome.UNKNOWN
    return Outcome.PERMANENT


def retry_after(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds the remote asked us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped, honouring ``Retry-After``."""

    max_attempts: int = 6
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def should_retry(self, outcome: Outcome, attempt: int) -> bool:
        """``attempt`` counts from 1 (the attempt that just failed)."""
        return outcome is Outcome.RETRY and attempt < self.max_attempts

    def delay(
        self, attempt: int, *, hint: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt ``attempt + 1``; at least ``hint`` (Retry-After)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        jittered = (rng or random).uniform(ceiling / 2, ceiling)
        return min(self.cap_seconds, max(jittered, hint or 0.0))
