"""“Connect with Mastodon” pages: the instance form and the OAuth callback."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required

from agency.channels import oauth, service
from agency.channels.models import Channel, Network
from agency.clients.service import get_manageable_client
from agency.errors import ValidationFailed
from tenants.models import ClientCompany

SESSION_KEY = "channel_oauth"

connect_bp = Blueprint(
    "channel_connect",
    __name__,
    url_prefix="/a/<agency_slug>/clients/<uuid:client_id>/channels/connect",
    template_folder="templates",
)
callback_bp = Blueprint("channel_oauth", __name__, url_prefix="/a/<agency_slug>/oauth")


def _remember(pending: oauth.Pending) -> None:
    flows = [f for f in session.get(SESSION_KEY, []) if f.get("client_id") != pending.client_id]
    session[SESSION_KEY] = [*flows, pending.to_dict()][-oauth.MAX_PENDING :]


def _take(state: str) -> oauth.Pending | None:
    """The flow this ``state`` belongs to, removed from the session (a state is used once)."""
    flows = session.get(SESSION_KEY, [])
    found = next((f for f in flows if f.get("state") == state), None) if state else None
    if found is None:
        return None
    session[SESSION_KEY] = [f for f in flows if f is not found]
    return oauth.Pending.from_dict(found)


@connect_bp.route("/mastodon", methods=["GET", "POST"])
@login_required
def mastodon(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = get_manageable_client(g.access, client_id)
    channel = channel_to_reconnect(client)
    data = {"instance_url": "", "name": ""}
    if channel is not None:
        data = {"instance_url": channel.settings.get("instance_url", ""), "name": channel.name}
    errors: dict = {}
    if request.method == "POST":
        data = {k: request.form.get(k, data[k]) for k in data}
        redirect_uri = url_for("channel_oauth.mastodon_callback", _external=True)
        try:
            authorize_url, pending = oauth.start_mastodon(
                g.access, client, data, redirect_uri, channel
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            _remember(pending)
            # A link, not a redirect: the page's CSP (form-action 'self') forbids a form
            # submission from ending on another site, and the manager sees where they go.
            return render_template(
                "channels/mastodon_continue.html",
                client=client,
                authorize_url=authorize_url,
                instance=pending.instance_url,
            )
    return render_template(
        "channels/mastodon_connect.html", client=client, data=data, errors=errors, channel=channel
    ), (422 if errors else 200)


def channel_to_reconnect(
    client: ClientCompany, network: str = Network.MASTODON.value
) -> Channel | None:
    """The channel on ``network`` named by ``?channel=`` (reconnect it); another answers 404.
    Shared by the Mastodon flow and the networks' OAuth flows."""
    wanted = request.args.get("channel")
    if not wanted:
        return None
    try:
        channel_id = uuid.UUID(wanted)
    except ValueError:
        abort(404)
    channel = service.get_channel(g.access, client, channel_id)
    if channel.network != network:
        abort(404)
    return channel


@callback_bp.get("/mastodon/callback")
@login_required
def mastodon_callback(agency_slug: str):  # noqa: ANN201
    pending = _take(request.args.get("state", ""))
    if pending is None:
        flash(_("This sign-in link is not valid any more. Start connecting again."), "danger")
        return redirect(url_for("clients.index"))
    client = get_manageable_client(g.access, oauth.client_of(pending))
    back = url_for("channels.index", client_id=client.id)
    code = request.args.get("code", "")
    if not code:
        flash(_("Mastodon did not grant access, so nothing was connected."), "warning")
        return redirect(back)
    try:
        channel = oauth.finish_mastodon(g.access, client, pending, code)
    except ValidationFailed as exc:
        reasons = " ".join(_messages(exc.errors))
        flash(reasons or _("The channel could not be connected."), "danger")
        return redirect(back)
    if pending.channel_id:
        flash(_("Reconnected %(name)s.", name=channel.name), "success")
    else:
        flash(
            _("Connected %(name)s as %(handle)s.", name=channel.name, handle=channel.handle or ""),
            "success",
        )
    return redirect(back)


def _messages(errors: object) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages(value)]
    if isinstance(errors, list):
        return [str(m) for m in errors]
    return [str(errors)]
