"""Error pages for the web and the JSON error shape for domain errors on the API."""

from __future__ import annotations

from flask import render_template
from werkzeug.exceptions import HTTPException

from agency.errors import DomainError
from agency.extensions import wants_json


def render_error_page(error: HTTPException):  # noqa: ANN201
    response = error.get_response()
    html = render_template("errors/error.html", error=error)
    response.set_data(html)
    response.content_type = "text/html; charset=utf-8"
    return response


def handle_domain_error(error: DomainError):  # noqa: ANN201
    if wants_json():
        from werkzeug.http import HTTP_STATUS_CODES

        payload = {
            "code": error.http_status,
            "status": HTTP_STATUS_CODES.get(error.http_status, "Error"),
            "message": error.message,
            "errors": {getattr(error, "location", "json"): error.errors} if error.errors else {},
        }
        return payload, error.http_status
    return render_template("errors/error.html", message=error.message), error.http_status
