"""The demo outbox: e-mails written instead of sent, readable in the browser (404 otherwise).

Only with the demo switch on, only signed in, and only the mail the viewer may read: their
own, and that of the agencies they own or manage.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from agency.db import db
from agency.mail import service
from tenants.models import Membership, Role

bp = Blueprint("mail", __name__, url_prefix="/dev/outbox", template_folder="templates")


@bp.before_request
def _only_when_enabled() -> None:
    if not service.outbox_page_enabled():
        abort(404)


def _managed_agency_ids() -> set[str]:
    rows = db.session.scalars(
        select(Membership.agency_id).where(
            Membership.user_id == current_user.id,
            Membership.active.is_(True),
            Membership.client_id.is_(None),
            Membership.role.in_([Role.OWNER.value, Role.MANAGER.value]),
        )
    )
    return {str(agency_id) for agency_id in rows}


@bp.get("/")
@login_required
def outbox():  # noqa: ANN201
    mails = service.list_outbox(current_user.email, _managed_agency_ids())
    return render_template("mail/outbox.html", mails=mails)


def _read(name: str) -> service.OutboxMail:
    try:
        mail = service.read_outbox(name)
    except FileNotFoundError:
        abort(404)
    if not service.readable_by(mail, current_user.email, _managed_agency_ids()):
        abort(404)
    return mail


@bp.get("/<name>")
@login_required
def message(name: str):  # noqa: ANN201
    return render_template("mail/outbox_message.html", mail=_read(name))


@bp.get("/<name>/html")
@login_required
def message_html(name: str):  # noqa: ANN201
    mail = _read(name)
    if mail.html is None:
        abort(404)
    response = Response(mail.html, mimetype="text/html")
    # Shown in a sandboxed iframe: no scripts, nothing loaded from elsewhere.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response
