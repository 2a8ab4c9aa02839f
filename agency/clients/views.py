"""Client pages under /a/<agency_slug>/clients: list, create, edit, detail, status changes."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from agency.clients import details, onboarding, service
from agency.clients.forms import ClientForm
from agency.errors import IllegalTransition, ValidationFailed
from agency.web.context import STATUS_LABELS, add_nav_item
from tenants.models import ClientStatus
from tenants.permissions import Permission

# The filtered list's title: its own phrases, so that a language agrees them with "clients".
LIST_TITLES = {
    "onboarding": _l("Clients — Onboarding"),
    "active": _l("Clients — Active"),
    "paused": _l("Clients — Paused"),
    "offboarded": _l("Clients — Offboarded"),
}

bp = Blueprint(
    "clients", __name__, url_prefix="/a/<agency_slug>/clients", template_folder="templates"
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav_item(app, "clients.index", _l("Clients"), None, agency_only=True)


@bp.get("/")
@login_required
def index(agency_slug: str):  # noqa: ANN201
    status = request.args.get("status") or None
    try:
        clients, next_cursor = service.list_clients(
            g.access, status=status, cursor=request.args.get("cursor") or None
        )
    except ValidationFailed:
        return redirect(url_for("clients.index"))
    return render_template(
        "clients/list.html",
        clients=clients,
        next_cursor=next_cursor,
        status=status,
        title=LIST_TITLES.get(status or "", _l("Clients")),
        statuses=list(ClientStatus),
        status_names={s.value: str(STATUS_LABELS[s.value]) for s in ClientStatus},  # once a page
        can_manage=g.access.can(Permission.MANAGE_CLIENTS),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create(agency_slug: str):  # noqa: ANN201
    service.require_manage(g.access)
    form = ClientForm(data=details.client_defaults(g.access))
    if form.validate_on_submit():
        try:
            client = service.create_client(g.access, form.details())
        except ValidationFailed as exc:
            form.show_errors(exc.errors)
        else:
            flash(_("Client %(name)s created.", name=client.name), "success")
            _flash_warnings(client)
            return redirect(url_for("clients.detail", client_id=client.id))
    status = 422 if form.errors else 200
    return render_template("clients/form.html", form=form, client=None), status


@bp.get("/<uuid:client_id>")
@login_required
def detail(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    from agency.channels.service import NETWORK_LABELS, list_channels
    from agency.workflow.forms import CLIENT_APPROVAL_CHOICES, LATE_CHOICES, REPLY_CHOICES
    from agency.workflow.service import find_policy

    client = service.get_client(g.access, client_id)
    can_manage = g.access.can(Permission.MANAGE_CLIENTS, client.id)
    checklist = onboarding.onboarding_checklist(client)
    return render_template(
        "clients/detail.html",
        client=client,
        can_manage=can_manage,
        checklist=checklist,
        channels=list_channels(g.access, client),
        network_labels={str(key.value): label for key, label in NETWORK_LABELS.items()},
        policy=find_policy(client),
        policy_labels={
            "client_approval": dict(CLIENT_APPROVAL_CHOICES),
            "reply_policy": dict(REPLY_CHOICES),
            "late_rule": dict(LATE_CHOICES),
        },
        actions=service.allowed_actions(client) if can_manage else [],
    )


@bp.route("/<uuid:client_id>/edit", methods=["GET", "POST"])
@login_required
def edit(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = service.get_manageable_client(g.access, client_id)
    form = ClientForm(obj=client)
    if form.validate_on_submit():
        try:
            service.update_client(g.access, client, form.details())
        except ValidationFailed as exc:
            form.show_errors(exc.errors)
        else:
            flash(_("Client saved."), "success")
            _flash_warnings(client)
            return redirect(url_for("clients.detail", client_id=client.id))
    status = 422 if form.errors else 200
    return render_template("clients/form.html", form=form, client=client), status


@bp.post("/<uuid:client_id>/status")
@login_required
def change_status(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = service.get_manageable_client(g.access, client_id)
    try:
        service.change_status(g.access, client, request.form.get("action", ""))
    except (IllegalTransition, ValidationFailed) as exc:
        flash(exc.message if isinstance(exc, IllegalTransition) else _("Unknown action."), "danger")
        return redirect(url_for("clients.detail", client_id=client.id)), 303
    flash(_("Client is now %(status)s.", status=STATUS_LABELS[client.status]), "success")
    return redirect(url_for("clients.detail", client_id=client.id))


def _flash_warnings(client) -> None:  # noqa: ANN001
    for warning in details.vat_warnings(client):
        flash(warning, "warning")
