"""Template helpers shared by every page, and the navigation registry feature packages add to."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from tenants.permissions import Permission

ROLE_LABELS = {
    "owner": _l("Owner"),
    "manager": _l("Manager"),
    "staff": _l("Staff"),
    "finance": _l("Finance"),
    "client_manager": _l("Client manager"),
    "client_viewer": _l("Client viewer"),
}
STATUS_LABELS = {
    "onboarding": _l("Onboarding"),
    "active": _l("Active"),
    "paused": _l("Paused"),
    "offboarded": _l("Offboarded"),
}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string
    permission: Permission | None = None


def add_nav_item(app: Flask, endpoint: str, label: object, permission: Permission | None) -> None:
    """Feature packages call this from their ``init_app`` to appear in the agency menu."""
    app.extensions.setdefault("regia_nav", []).append(NavItem(endpoint, label, permission))


def init_app(app: Flask) -> None:
    app.context_processor(_template_helpers)


def _template_helpers() -> dict:
    def user_agencies() -> list:
        if not current_user.is_authenticated:
            return []
        if "user_agencies" not in g:
            from tenants.service import agencies_of

            g.user_agencies = agencies_of(current_user)
        return g.user_agencies

    def nav_items() -> list[dict]:
        access = g.get("access")
        if access is None:
            return []
        return [
            {"url": url_for(item.endpoint), "label": item.label}
            for item in current_app.extensions.get("regia_nav", [])
            if item.permission is None or access.can(item.permission)
        ]

    return {
        "current_locale": str(get_locale() or "en"),
        "user_agencies": user_agencies,
        "nav_items": nav_items,
        "role_label": lambda role: ROLE_LABELS.get(str(role), role),
        "status_label": lambda status: STATUS_LABELS.get(str(status), status),
    }
