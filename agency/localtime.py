"""Times as people read them: a stored UTC moment shown in a client's (or agency's) zone.

The one formatter for every page, e-mail and notification: ``local_time(moment, zone)`` in
Python, ``{{ moment|local_time(zone) }}`` in templates. A row names its zone by abbreviation
("2026-12-05 18:00 CET"); a page or mail about one client may name the zone once instead
(``named=False`` for the times, then the zone's name).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask

FORMAT = "%Y-%m-%d %H:%M"


@lru_cache(maxsize=512)
def zone_of(name: str | None) -> ZoneInfo:
    """The zone called ``name``; UTC for an empty or unknown name (stored names are checked
    on the way in, so this only guards against a zone database that lost one)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime | None, timezone: str | None, *, named: bool = True) -> str:
    """``moment`` (UTC; naive means UTC) as wall-clock time in ``timezone``, followed by the
    zone's abbreviation unless ``named`` is False; "" for no moment."""
    if moment is None:
        return ""
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone_of(timezone))
    text = local.strftime(FORMAT)
    return f"{text} {local.tzname()}" if named else text


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
