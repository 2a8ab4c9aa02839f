"""Rate limits keyed on what is attacked, not only on who attacks.

The client address is ``request.remote_addr``: werkzeug's ProxyFix (``REGIA_TRUSTED_PROXIES``
hops) makes it the real client behind a reverse proxy, and nothing else trusts the
``X-Forwarded-For`` header. Service-level limits (invitations per agency and per recipient)
use ``hit``; views use the Flask-Limiter decorators with the key functions below.
"""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _
from limits import parse

from agency.errors import DomainError
from agency.extensions import limiter


class TooManyRequests(DomainError):
    http_status = 429


def client_address() -> str:
    return request.remote_addr or "unknown"


def submitted_email() -> str:
    """The e-mail a sign-in/reset form or JSON body names, normalised ("-" when none)."""
    value = request.form.get("email")
    if value is None:
        body = request.get_json(silent=True)
        value = body.get("email") if isinstance(body, dict) else None
    value = value.strip().lower() if isinstance(value, str) else ""
    return value[:320] or "-"


def account_and_address() -> str:
    return f"{submitted_email()}|{client_address()}"


def setting(name: str):  # noqa: ANN201 - a callable Flask-Limiter re-reads per request
    return lambda: getattr(current_app.config["REGIA"], name)


def hit(limit_setting: str, scope: str, key: str) -> None:
    """Count one event against a configured limit; ``TooManyRequests`` (429) once over it."""
    item = parse(getattr(current_app.config["REGIA"], limit_setting))
    if not limiter.limiter.hit(item, "regia", scope, key):
        raise TooManyRequests(_("Too many attempts. Please wait a while and try again."))
