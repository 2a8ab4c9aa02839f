"""Channel pages under /a/<agency_slug>/clients/<client_id>/channels."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from agency.channels import connect, labels, network_oauth, service
from agency.channels.models import Channel, Network
from agency.clients.service import get_client, get_manageable_client, require_manage
from agency.errors import ValidationFailed
from tenants.permissions import Permission

bp = Blueprint(
    "channels",
    __name__,
    url_prefix="/a/<agency_slug>/clients/<uuid:client_id>/channels",
    template_folder="templates",
)


def init_app(app: Flask) -> None:
    from agency.channels import manual_views, network_oauth_views, oauth_views

    app.register_blueprint(bp)
    app.add_template_filter(service.network_label, "network_label")
    manual_views.init_app(app)
    app.register_blueprint(oauth_views.connect_bp)
    app.register_blueprint(oauth_views.callback_bp)
    network_oauth_views.init_app(app)


def _submitted() -> dict:
    settings = {
        key.removeprefix("settings-"): value
        for key, value in request.form.items()
        if key.startswith("settings-")
    }
    return {
        "network": request.form.get("network"),
        "name": request.form.get("name"),
        "handle": request.form.get("handle"),
        "settings": settings,
    }


def _flat_errors(errors: dict) -> dict[str, list[str]]:
    flat = {k: v for k, v in errors.items() if k != "settings"}
    for key, messages in (errors.get("settings") or {}).items():
        flat[f"settings-{key}"] = messages
    return flat


@bp.get("/")
@login_required
def index(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = get_client(g.access, client_id)
    return render_template(
        "channels/list.html",
        client=client,
        channels=service.list_channels(g.access, client),
        can_manage=g.access.can(Permission.MANAGE_CLIENTS, client.id),
        labels=service.NETWORK_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = get_manageable_client(g.access, client_id)
    data = _submitted() if request.method == "POST" else {"network": request.args.get("network")}
    errors: dict[str, list[str]] = {}
    network = data.get("network") if data.get("network") in set(Network) else None
    if request.method == "POST":
        try:
            channel = connect.add_channel(g.access, client, data)
        except ValidationFailed as exc:
            errors = _flat_errors(exc.errors)
        else:
            _flash_saved(_("Channel %(name)s added.", name=channel.name), channel)
            return redirect(url_for("channels.index", client_id=client.id))
    return render_template(
        "channels/form.html",
        client=client,
        channel=None,
        network=network,
        specs=service.specs_for(network) if network else (),
        data=data,
        errors=errors,
        stored=set(),
        masked={},
        labels=service.NETWORK_LABELS,
        add_title=service.ADD_TITLES.get(network) if network else None,
        setting_label=labels.label,
        setting_help=labels.help_text,
        checkable=connect.has_connector(network) if network else True,
        oauth_networks=network_oauth.connectable_networks(),
        reconnect_networks=set(),
    ), (422 if errors else 200)


@bp.route("/<uuid:channel_id>/edit", methods=["GET", "POST"])
@login_required
def edit(agency_slug: str, client_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN201
    client = get_manageable_client(g.access, client_id)
    channel = service.get_channel(g.access, client, channel_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = _submitted()
        try:
            connect.update_channel(g.access, channel, data)
        except ValidationFailed as exc:
            errors = _flat_errors(exc.errors)
        else:
            _flash_saved(_("Channel saved."), channel)
            return redirect(url_for("channels.index", client_id=client.id))
    else:
        data = {"name": channel.name, "handle": channel.handle, "settings": channel.settings}
    return render_template(
        "channels/form.html",
        client=client,
        channel=channel,
        network=channel.network,
        specs=service.specs_for(channel.network),
        data=data,
        errors=errors,
        stored=set(service.credential_fields(channel)),
        masked=service.masked_secrets(channel),
        labels=service.NETWORK_LABELS,
        add_title=None,
        setting_label=labels.label,
        setting_help=labels.help_text,
        checkable=connect.has_connector(channel.network),
        oauth_networks=set(),
        reconnect_networks=network_oauth.connectable_networks(),
    ), (422 if errors else 200)


def _flash_saved(message: str, channel: Channel) -> None:
    if channel.verified_at is not None:
        flash(message, "success")
        return
    if channel.check_error:
        note = _(
            "The network could not be reached to check the credentials (%(reason)s): the "
            "channel shows as not verified until a check succeeds.",
            reason=channel.check_error,
        )
        flash(f"{message} {note}", "warning")
        return
    flash(
        message
        + " "
        + _(
            "Regia cannot check %(network)s credentials yet, so the channel is shown as "
            "not verified until it can.",
            network=service.NETWORK_LABELS[Network(channel.network)],
        ),
        "warning",
    )


def _action(client_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN202
    client = get_client(g.access, client_id)
    require_manage(g.access, client.id)
    return client, service.get_channel(g.access, client, channel_id)


@bp.post("/<uuid:channel_id>/disable")
@login_required
def disable(agency_slug: str, client_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN201
    client, channel = _action(client_id, channel_id)
    service.set_channel_enabled(g.access, channel, False)
    flash(_("Channel %(name)s disabled.", name=channel.name), "success")
    return redirect(url_for("channels.index", client_id=client.id))


@bp.post("/<uuid:channel_id>/enable")
@login_required
def enable(agency_slug: str, client_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN201
    client, channel = _action(client_id, channel_id)
    try:
        connect.enable_channel(g.access, channel)
    except ValidationFailed as exc:
        for message in _flat_errors(exc.errors).values():
            flash(" ".join(str(m) for m in message), "danger")
    else:
        flash(_("Channel %(name)s enabled.", name=channel.name), "success")
    return redirect(url_for("channels.index", client_id=client.id))


@bp.post("/<uuid:channel_id>/delete")
@login_required
def delete(agency_slug: str, client_id: uuid.UUID, channel_id: uuid.UUID):  # noqa: ANN201
    client, channel = _action(client_id, channel_id)
    name = channel.name
    service.delete_channel(g.access, channel)
    flash(_("Channel %(name)s deleted.", name=name), "success")
    return redirect(url_for("channels.index", client_id=client.id))
