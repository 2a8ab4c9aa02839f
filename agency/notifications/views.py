"""The notifications page under /a/<agency_slug>/notifications, and the navbar's unread count."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import login_required
from flask_wtf import FlaskForm

from agency.content.forms import STATUS_LABELS
from agency.content.portal import CLIENT_STATUS_LABELS
from agency.errors import ValidationFailed
from agency.notifications import service
from tenants.permissions import Permission

bp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/a/<agency_slug>/notifications",
    template_folder="templates",
)

EVENT_LABELS = {
    "submitted": _l("Waiting for your approval"),
    "changes_requested": _l("Changes requested"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "mentioned": _l("You were mentioned"),
    "deadline_near": _l("Approval deadline near"),
    "held_late": _l("Approved late: held, not scheduled"),
    "approved_late": _l("Approved after the deadline"),
    "publishing_failed": _l("Publishing failed"),
    "due_by_hand": _l("Due to be published by hand"),
    "channel_needs_reconnect": _l("Reconnect it to publish on it again"),
}


# An event that asked for a decision, once the post no longer waits for it: no call to act.
NO_LONGER_WAITING = _l("No longer waiting for you")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.context_processor(lambda: {"unread_notifications": _unread_for_navbar})


def _receives(access) -> bool:  # noqa: ANN001
    return access is not None and access.can(Permission.SEE_CONTENT)


def _unread_for_navbar() -> int | None:
    """The unread count on this agency's pages for members who get notifications, else None."""
    access = g.get("access")
    if not _receives(access) or g.get("api_token") is not None:
        return None
    if "unread_notifications" not in g:
        g.unread_notifications = service.unread_count(access)
    return g.unread_notifications


def _require_receiver() -> None:
    if not _receives(g.get("access")):
        abort(403)


@bp.get("/")
@login_required
def index(agency_slug: str):  # noqa: ANN201
    _require_receiver()
    try:
        items, next_cursor = service.list_notifications(
            g.access, cursor=request.args.get("cursor") or None
        )
    except ValidationFailed:
        return redirect(url_for("notifications.index"))
    return render_template(
        "notifications/index.html",
        items=items,
        next_cursor=next_cursor,
        labels=EVENT_LABELS,
        no_longer_waiting=NO_LONGER_WAITING,
        asks_for_decision=service.ASKS_FOR_DECISION,
        status_labels=STATUS_LABELS,
        client_status_labels=CLIENT_STATUS_LABELS,
        form=FlaskForm(),
        unread=_unread_for_navbar(),
    )


@bp.post("/<uuid:notification_id>/read")
@login_required
def mark_read(agency_slug: str, notification_id: uuid.UUID):  # noqa: ANN201
    _require_receiver()
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(url_for("notifications.index")), 303
    service.mark_read(g.access, notification_id)  # another member's or agency's: 404
    return redirect(url_for("notifications.index"))


@bp.post("/read-all")
@login_required
def mark_all_read(agency_slug: str):  # noqa: ANN201
    _require_receiver()
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(url_for("notifications.index")), 303
    count = service.mark_all_read(g.access)
    flash(
        ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.", count),
        "success",
    )
    return redirect(url_for("notifications.index"))
