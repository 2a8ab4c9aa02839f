"""Template helpers shared by every page, and the navigation registry feature packages add to."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from babel import Locale
from flask import Flask, Response, current_app, g, request, send_from_directory, session, url_for
from flask_babel import get_locale, get_translations
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2.ext import _make_new_gettext, _make_new_ngettext

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
    label: object  # a lazy string, or a function of the reader's Access giving one
    permission: Permission | tuple[Permission, ...] | None = None  # a tuple: any of them
    agency_only: bool = False  # hidden from client users (the portal has no agency pages)
    also: tuple[str, ...] = ()  # other blueprints whose pages are in this item's section

    @property
    def sections(self) -> tuple[str, ...]:
        return (self.endpoint.split(".")[0], *self.also)

    def shown_to(self, access) -> bool:  # noqa: ANN001 - tenants.permissions.Access
        if self.agency_only and access.agency_role is None:
            return False
        if self.permission is None:
            return True
        wanted = self.permission if isinstance(self.permission, tuple) else (self.permission,)
        return any(access.can(p) for p in wanted)

    def label_for(self, access) -> object:  # noqa: ANN001
        return self.label(access) if callable(self.label) else self.label


def add_nav_item(
    app: Flask,
    endpoint: str,
    label: object,
    permission: Permission | tuple[Permission, ...] | None,
    *,
    agency_only: bool = False,
    also: tuple[str, ...] = (),
) -> None:
    """Feature packages call this from their ``init_app`` to appear in the agency menu."""
    item = NavItem(endpoint, label, permission, agency_only, also)
    app.extensions.setdefault("regia_nav", []).append(item)


LAST_AGENCY_KEY = "last_agency"


def init_app(app: Flask) -> None:
    from agency.web import a11y

    app.context_processor(_template_helpers)
    app.after_request(_remember_agency)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    a11y.init_app(app)


def _favicon() -> Response:
    return send_from_directory(
        current_app.static_folder or "static", "favicon.ico", mimetype="image/vnd.microsoft.icon"
    )


def _remember_agency(response: Response) -> Response:
    """The agency of the last agency page: pages outside any agency keep showing its menu."""
    agency = g.get("agency")
    on_web = g.get("api_token") is None and not request.path.startswith("/api/")
    if agency is not None and on_web and session.get(LAST_AGENCY_KEY) != str(agency.id):
        session[LAST_AGENCY_KEY] = str(agency.id)
    return response


def menu_access() -> object | None:
    """The membership whose agency menu the page shows: the page's agency, else the agency
    the user last worked in (or their only one). Membership is checked, never assumed."""
    if "menu_access" in g:
        return g.menu_access
    access = g.get("access")
    if access is None and current_user.is_authenticated:
        from tenants.service import agencies_of, load_access

        if "user_agencies" not in g:
            g.user_agencies = agencies_of(current_user)
        agencies = g.user_agencies
        last = session.get(LAST_AGENCY_KEY)
        chosen = next((a for a in agencies if str(a.id) == last), None)
        if chosen is None and len(agencies) == 1:
            chosen = agencies[0]
        access = load_access(current_user, chosen) if chosen is not None else None
    g.menu_access = access
    return access


_HOLE = uuid.UUID(int=0)


def row_url(endpoint: str, key: str, **values: object) -> Callable[[object], str]:
    """``url_for(endpoint, key=id, **values)`` for every row of a list: the URL is built once
    and each row's UUID put in its place (a UUID needs no quoting), not routed per row."""
    head, _hole, tail = url_for(endpoint, **values, **{key: _HOLE}).partition(str(_HOLE))
    return lambda value: f"{head}{value}{tail}"


def country_name(code: str | None) -> str:
    """``IT`` as "Italy" / "Italia" in the reader's language."""
    if not code:
        return ""
    return _reader_locale().territories.get(code.upper(), code)


def language_name(code: str | None) -> str:
    """``it`` as "Italian" / "italiano" in the reader's language."""
    if not code:
        return ""
    return _reader_locale().languages.get(code, code)


def _reader_locale() -> Locale:
    return get_locale() or Locale.parse("en")  # the request's own Locale: no parse a row


def _template_helpers() -> dict:
    def user_agencies() -> list:
        if not current_user.is_authenticated:
            return []
        if "user_agencies" not in g:
            from tenants.service import agencies_of

            g.user_agencies = agencies_of(current_user)
        return g.user_agencies

    def nav_items() -> list[dict]:
        access = menu_access()
        if access is None:
            return []
        here = request.endpoint or ""
        shown = [i for i in current_app.extensions.get("regia_nav", []) if i.shown_to(access)]
        # One item is current at most: the page's own item, else the first item of the page's
        # section (a client's page is in Clients; a post's page in Posts, not also in Calendar).
        current: tuple[NavItem, str] | None = None
        if g.get("access") is not None:
            section = here.split(".")[0]
            own = next((i for i in shown if i.endpoint == here), None)
            near = next((i for i in shown if section in i.sections), None)
            current = (own, "page") if own else (near, "true") if near else None
        return [
            {
                "url": url_for(item.endpoint, agency_slug=access.agency.slug),
                "label": item.label_for(access),
                "current": current[1] if current and current[0] is item else None,
            }
            for item in shown
        ]

    # The templates' _() and ngettext() with this render's catalogue looked up once, not once a
    # string (flask-babel's installed callables find the locale and catalogue on every call);
    # the same newstyle wrappers Jinja puts around flask-babel's, so the output is identical.
    translations = get_translations()
    return {
        "gettext": _make_new_gettext(translations.ugettext),
        "ngettext": _make_new_ngettext(translations.ungettext),
        "current_locale": str(get_locale() or "en"),
        "user_agencies": user_agencies,
        "nav_items": nav_items,
        "menu_access": menu_access,
        "country_name": country_name,
        "row_url": row_url,
        "language_name": language_name,
        "role_label": lambda role: ROLE_LABELS.get(str(role), role),
        "status_label": lambda status: STATUS_LABELS.get(str(status), status),
    }
