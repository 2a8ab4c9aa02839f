"""The post page's "published by hand" form for manual channels."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from agency.channels import manual
from agency.errors import ValidationFailed

bp = Blueprint("manual_publish", __name__, url_prefix="/a/<agency_slug>/posts")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.template_global()
    def manual_channel_ids(post: dict) -> set[str]:
        """Channel ids of ``post`` whose link the signed-in user may record by hand."""
        return {str(t["channel_id"]) for t in manual.manual_targets(g.access, post)}

    @app.template_global()
    def due_by_hand(post: dict) -> bool:
        """``post``'s time has come: its manual channels wait for someone to publish it."""
        return manual.is_due(post)


@bp.post("/<uuid:post_id>/manual-publish")
@login_required
def record(agency_slug: str, post_id: uuid.UUID):  # noqa: ANN201
    try:
        manual.mark_published(
            g.access, post_id, request.form.get("channel_id"), request.form.get("url")
        )
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "danger")
    else:
        flash(_("Marked as published."), "success")
    return redirect(url_for("content.detail", post_id=post_id))
