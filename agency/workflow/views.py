"""The approval-policy page of a client: /a/<agency_slug>/clients/<client_id>/approval-policy."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from agency.clients.service import get_manageable_client
from agency.errors import ValidationFailed
from agency.workflow import service
from agency.workflow.forms import PolicyForm

bp = Blueprint(
    "workflow",
    __name__,
    url_prefix="/a/<agency_slug>/clients/<uuid:client_id>",
    template_folder="templates",
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/approval-policy", methods=["GET", "POST"])
@login_required
def policy(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = get_manageable_client(g.access, client_id)
    current = service.find_policy(client)
    # On POST the form reads the submission; on GET it shows the saved policy (or defaults).
    form = PolicyForm() if request.method == "POST" else PolicyForm(data=_form_data(current))
    form.approver_ids.choices = [
        (str(u.id), f"{u.name} <{u.email}>") for u in service.eligible_approvers(client)
    ]
    if form.validate_on_submit():
        try:
            service.save_policy(g.access, client, form.values())
        except ValidationFailed as exc:
            form.show_errors(exc.errors)
        else:
            flash(_("Approval policy saved."), "success")
            return redirect(url_for("clients.detail", client_id=client.id))
    status = 422 if form.errors else 200
    return render_template("workflow/policy.html", form=form, client=client, saved=current), status


def _form_data(policy) -> dict:  # noqa: ANN001
    values = {k: getattr(policy, k) for k in service.POLICY_FIELDS} if policy else service.DEFAULTS
    return {
        **values,
        "approver_ids": [str(v) for v in values["approver_ids"]],
        "reminder_hours": ", ".join(str(h) for h in values["reminder_hours"]),
    }
