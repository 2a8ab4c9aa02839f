"""Channel endpoints (base URLs, webhook URLs): which may be saved, and how a stored one is shown.

Saving refuses what the outbound guard would refuse anyway (``agency.outbound_guard``), so a
manager learns it when typing the URL rather than when a post fails to publish.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from agency import outbound_guard


def allow_private_hosts() -> bool:
    return bool(current_app.config["REGIA"].allow_private_hosts)


def url_error(value: str) -> str | None:
    """Why ``value`` cannot be a channel endpoint (a localized message), or None if it can."""
    allow_private = allow_private_hosts()
    problem = outbound_guard.url_problem(value, allow_private=allow_private)
    if problem is None:
        return None
    if problem is outbound_guard.UrlProblem.SCHEME:
        if allow_private:
            return _("Enter an http:// or https:// URL.")
        return _("Enter an https:// URL.")
    if problem is outbound_guard.UrlProblem.CREDENTIALS:
        return _("Leave user names and passwords out of the URL.")
    if problem is outbound_guard.UrlProblem.PRIVATE:
        return _("This is a private or local address: channels can only call public hosts.")
    return _("Enter a URL with a valid host name.")


def mask_url(url: str | None) -> str:
    """``https://hooks.example.com/…``: enough to recognise a secret URL, not to use it."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    return f"{parts.scheme}://{host}{port}/…"
