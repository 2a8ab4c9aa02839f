"""The one publishing page action: a manager retries a failed target (web)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from agency.content import service as content_service
from agency.errors import IllegalTransition
from agency.publishing import service

bp = Blueprint(
    "publishing", __name__, url_prefix="/a/<agency_slug>/posts", template_folder="templates"
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["retry_refusal"] = retry_refusal


def retry_refusal(post: dict, target: dict) -> str | None:
    """The post page's retry button, by the service's rule: ``None`` shows the button, the
    channel's status shows what to fix first, anything else shows nothing."""
    access = getattr(g, "access", None)
    if not service.may_retry(access, post["client_id"]):
        return service.NOT_RETRYABLE
    return service.retry_refusal(
        post["status"], post["approved_revision"], post["revision"], target["status"],
        target["channel_status"],
    )  # fmt: skip


@bp.post("/<uuid:post_id>/channels/<uuid:channel_id>/retry")
@login_required
def retry(agency_slug: str, post_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN201
    content_service.get_post(g.access, post_id)  # 404 first for a post this user cannot see
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    try:
        service.retry_channel(g.access, post_id, channel_id, via="web")
    except IllegalTransition as exc:
        flash(exc.message, "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    flash(_("Publishing again."), "success")
    return redirect(url_for("content.detail", post_id=post_id))
