"""Error pages for the web and the JSON error shape for domain errors on the API."""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from agency.errors import DomainError, ValidationFailed
from agency.extensions import wants_json

# What an error page says, in the reader's language (werkzeug's names are English only).
ERROR_MESSAGES = {
    400: _l(
        "The request could not be understood. "
        "If you submitted a form, reload the page and try again."
    ),
    401: _l("Please sign in to see this page."),
    403: _l("Your role does not allow this."),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This page cannot be used that way."),
    409: _l("This change conflicts with the current state. Reload the page and try again."),
    413: _l("The upload is too large."),
    415: _l("This kind of content is not accepted here."),
    422: _l("The submitted data could not be processed."),
    429: _l("Too many attempts. Please wait a few minutes and try again."),
    500: _l("Something went wrong on our side. Please try again; if it keeps happening, tell us."),
    502: _l("A service we depend on did not answer. Please try again in a moment."),
    503: _l("Regia is not available right now. Please try again in a moment."),
}
ERROR_TITLES = {
    400: _l("Bad request"),
    401: _l("Sign-in required"),
    403: _l("Not allowed"),
    404: _l("Page not found"),
    405: _l("Method not allowed"),
    409: _l("Conflict"),
    413: _l("Upload too large"),
    415: _l("Unsupported content"),
    422: _l("Invalid data"),
    429: _l("Too many attempts"),
    500: _l("Internal error"),
    502: _l("Service unavailable"),
    503: _l("Service unavailable"),
}


def error_text(code: int | None) -> tuple[str, str]:
    """(title, message) of an error page for ``code``, localized."""
    title = ERROR_TITLES.get(code or 500, _l("Error"))
    message = ERROR_MESSAGES.get(code or 500, _l("Something went wrong. Please try again."))
    return str(title), str(message)


def render_error_page(error: HTTPException):  # noqa: ANN201
    response = error.get_response()
    title, message = error_text(error.code)
    html = render_template("errors/error.html", error=error, title=title, message=message)
    response.set_data(html)
    response.content_type = "text/html; charset=utf-8"
    return response


def handle_domain_error(error: DomainError):  # noqa: ANN201
    if wants_json():
        from werkzeug.http import HTTP_STATUS_CODES

        from agency.web.api_errors import summary

        message = error.message
        if isinstance(error, ValidationFailed) and message == ValidationFailed.DEFAULT_MESSAGE:
            message = summary(error.errors, message)
        payload = {
            "code": error.http_status,
            "status": HTTP_STATUS_CODES.get(error.http_status, "Error"),
            "message": message,
            "errors": {getattr(error, "location", "json"): error.errors} if error.errors else {},
        }
        return payload, error.http_status
    return render_template("errors/error.html", message=error.message), error.http_status
