"""API operations that take a JSON body get one: JSON sent as anything else is a 415, and a
missing body is a 422 (an empty ``PUT`` must never pass for "reset everything")."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_babel import gettext as _
from flask_smorest import abort

API_PREFIX = "/api/v1/"
BODY_METHODS = {"POST", "PUT", "PATCH"}


def init_app(app: Flask) -> None:
    app.before_request(require_json_body)


def takes_json_body(endpoint: str | None, method: str) -> bool:
    """Whether the view behind ``endpoint`` parses a JSON body for ``method``."""
    view = current_app.view_functions.get(endpoint or "")
    view_class = getattr(view, "view_class", None)
    func = getattr(view_class, method.lower(), None) if view_class else view
    parameters = getattr(func, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    return any(p.get("in") == "json" for p in parameters)


def require_json_body() -> None:
    if request.method not in BODY_METHODS or not request.path.startswith(API_PREFIX):
        return
    if not takes_json_body(request.endpoint, request.method):
        return
    # A form body has been parsed (and its stream read) already by the input guard.
    if not (request.content_length or request.get_data(cache=True) or request.form):
        abort(
            422,
            message=_("A JSON body is required."),
            errors={"json": {"_schema": [_("A JSON body is required.")]}},
        )
    if not request.is_json:
        abort(
            415,
            message=_("Send the body as JSON with Content-Type: application/json."),
        )
