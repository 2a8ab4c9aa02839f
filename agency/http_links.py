"""Links people typed that Regia renders back as links."""

from __future__ import annotations

from urllib.parse import urlsplit


def is_web_link(url: object) -> bool:
    """An absolute http(s) URL with a host: safe to render as a link (no javascript: or data:)."""
    if not isinstance(url, str) or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
