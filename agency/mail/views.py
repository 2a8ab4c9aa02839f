"""The demo outbox: e-mails written instead of sent, readable in the browser (404 otherwise)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template

from agency.mail import service

bp = Blueprint("mail", __name__, url_prefix="/dev/outbox", template_folder="templates")


@bp.before_request
def _only_when_enabled() -> None:
    if not service.outbox_page_enabled():
        abort(404)


@bp.get("/")
def outbox():  # noqa: ANN201
    return render_template("mail/outbox.html", mails=service.list_outbox())


def _read(name: str) -> service.OutboxMail:
    try:
        return service.read_outbox(name)
    except FileNotFoundError:
        abort(404)


@bp.get("/<name>")
def message(name: str):  # noqa: ANN201
    return render_template("mail/outbox_message.html", mail=_read(name))


@bp.get("/<name>/html")
def message_html(name: str):  # noqa: ANN201
    mail = _read(name)
    if mail.html is None:
        abort(404)
    response = Response(mail.html, mimetype="text/html")
    # Shown in a sandboxed iframe: no scripts, nothing loaded from elsewhere.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
