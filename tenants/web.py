"""Per-request identity and tenant resolution for web pages and the API.

Web pages under ``/a/<agency_slug>/`` resolve the agency from the URL after checking the
logged-in user's membership; API requests resolve it from the bearer token. Either way the
agency lands in the tenant ContextVar and ``g.access``; anything else answers 404/401.
"""

from __future__ import annotations

import contextlib
import uuid

from flask import Flask, abort, g, has_request_context, request
from flask_login import current_user
from flask_smorest import abort as api_abort

from agency.db import db, utcnow
from agency.extensions import login_manager
from tenants.context import reset_current_agency, set_current_agency
from tenants.models import User
from tenants.permissions import Access, Permission
from tenants.service import find_agency_by_slug, load_access, resolve_api_identity

API_PREFIX = "/api/v1/"
PUBLIC_API_BLUEPRINTS = {"api-docs", "apidocs"}  # the OpenAPI document and its browser


def init_app(app: Flask) -> None:
    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.before_request(resolve_request_tenant)
    app.teardown_request(_reset_tenant)
    app.url_defaults(_add_agency_slug)


def load_user(session_id: str) -> User | None:
    """Flask-Login's loader; on an agency's pages it resolves the membership in the same query."""
    from tenants.sessions import load_session_user

    # Only the slug resolve_request_tenant is resolving (an error page may load the user
    # first, for a URL whose slug was refused), as find_agency_by_slug took it before.
    slug = g.get("resolving_slug") if has_request_context() else None
    return load_session_user(session_id, slug)


def public_endpoint(view):  # noqa: ANN001, ANN201
    """Mark an API view (function or MethodView class) as needing no bearer token."""
    view._regia_public = True
    return view


def is_public(endpoint: str | None) -> bool:
    """Whether the API view behind ``endpoint`` takes no bearer token."""
    from flask import current_app

    view = current_app.view_functions.get(endpoint or "")
    target = getattr(view, "view_class", view)
    return bool(getattr(target, "_regia_public", False))


def resolve_request_tenant():  # noqa: ANN201
    if request.path.startswith(API_PREFIX):
        return _resolve_api_request()
    slug = (request.view_args or {}).get("agency_slug")
    if slug is None:
        return None
    g.resolving_slug = slug  # the user loader resolves the membership in the same query
    authenticated = current_user.is_authenticated
    g.pop("resolving_slug", None)
    if not authenticated:
        return login_manager.unauthorized()
    loaded = g.pop("session_access", None)
    if loaded is not None and loaded[0] == current_user.id and loaded[1] == slug:
        access = loaded[2]  # resolved with the user, in the same query
    else:  # the user came from elsewhere (signed in during this request)
        agency = find_agency_by_slug(slug)
        access = load_access(current_user, agency) if agency else None
    if access is None:
        abort(404)
    _activate(access)
    return None


def _resolve_api_request() -> None:
    if request.endpoint is None or request.blueprint in PUBLIC_API_BLUEPRINTS:
        return
    if is_public(request.endpoint):
        return
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        api_abort(401, message="Authentication required: send 'Authorization: Bearer <token>'.")
    found = resolve_api_identity(value.strip())
    if found is None:
        api_abort(401, message="The token is invalid, revoked, or its member is inactive.")
    token, access = found
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now  # coarse on purpose: one write a minute, not one a request
        db.session.commit()
    g.api_token = token
    _activate(access)


def _activate(access: Access) -> None:
    g.access = access
    g.agency = access.agency
    g.tenant_token = set_current_agency(access.agency.id)


def _reset_tenant(exc: BaseException | None) -> None:
    token = g.pop("tenant_token", None)
    if token is not None:
        # A different Context (streamed response) has nothing to undo.
        with contextlib.suppress(ValueError):
            reset_current_agency(token)


def _add_agency_slug(endpoint: str, values: dict) -> None:
    if "agency_slug" in values or "agency" not in g:
        return
    from flask import current_app

    if current_app.url_map.is_endpoint_expecting(endpoint, "agency_slug"):
        values["agency_slug"] = g.agency.slug


def current_access() -> Access:
    access = g.get("access")
    if access is None:
        abort(404)
    return access


def require(permission: Permission, client_id: uuid.UUID | None = None) -> Access:
    """The current access if it holds ``permission``; else 403 (the object itself is visible)."""
    access = current_access()
    if not access.can(permission, client_id):
        if request.path.startswith(API_PREFIX):
            api_abort(403, message="Your role does not allow this.")
        abort(403)
    return access
