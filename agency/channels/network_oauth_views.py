"""“Connect with X / LinkedIn / Facebook / Instagram” pages (``network_oauth`` does the work).

The redirect URI the operator registers is one per provider and agency-free,
``/oauth/<provider>/callback``: it only finds the flow in the manager's session by ``state``
and forwards the answer to the agency's own callback, which uses the state once.
"""

from __future__ import annotations

import json
import secrets
import uuid
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Flask,
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

from agency.channels import network_oauth, service
from agency.channels.models import Channel, Network
from agency.channels.network_oauth_providers import NETWORK_NAMES
from agency.channels.oauth_views import _messages, channel_to_reconnect
from agency.clients.service import get_manageable_client
from agency.errors import ValidationFailed
from agency.jobs import redis_client

FLOWS_KEY = "network_oauth"
CHOICE_KEY = "network_oauth_choice"
MAX_FLOWS = 5  # sign-ins one session may have open at once (several tabs)
CHOICE_SECONDS = 15 * 60  # how long the accounts to choose from are kept
CHOICE_REDIS = "regia:oauth-choice:"
NETWORKS = "any(x, linkedin, facebook_page, instagram)"
PROVIDERS = "any(x, linkedin, facebook)"
ANSWER_FIELDS = ("code", "state", "error", "error_description")  # what the network sends back

connect_bp = Blueprint(
    "network_connect",
    __name__,
    url_prefix="/a/<agency_slug>/clients/<uuid:client_id>/channels/connect",
    template_folder="templates",
)
callback_bp = Blueprint("network_oauth", __name__, url_prefix="/a/<agency_slug>/oauth")
return_bp = Blueprint("oauth_return", __name__, url_prefix="/oauth")


def init_app(app: Flask) -> None:
    for blueprint in (connect_bp, callback_bp, return_bp):
        app.register_blueprint(blueprint)


def _label(network: str) -> str:
    return str(service.NETWORK_LABELS[Network(network)])


def _keep_choice(choice: network_oauth.Choice) -> None:
    """In Redis, not the cookie: an agency's Facebook user may manage dozens of Pages."""
    key = secrets.token_urlsafe(24)
    redis_client().setex(CHOICE_REDIS + key, CHOICE_SECONDS, json.dumps(choice.to_dict()))
    session[CHOICE_KEY] = key


def _kept_choice() -> network_oauth.Choice | None:
    key = session.get(CHOICE_KEY)
    raw = redis_client().get(CHOICE_REDIS + key) if isinstance(key, str) and key else None
    return network_oauth.Choice.from_dict(json.loads(raw)) if raw else None


def _drop_choice() -> None:
    key = session.pop(CHOICE_KEY, None)
    if isinstance(key, str) and key:
        redis_client().delete(CHOICE_REDIS + key)


def _remember(flow: network_oauth.Flow) -> None:
    flows = [f for f in session.get(FLOWS_KEY, []) if f.get("client_id") != flow.client_id]
    session[FLOWS_KEY] = [*flows, flow.to_dict()][-MAX_FLOWS:]


def _find(state: str) -> network_oauth.Flow | None:
    found = next((f for f in session.get(FLOWS_KEY, []) if f.get("state") == state), None)
    return network_oauth.Flow.from_dict(found) if state and found else None


def _take(state: str) -> network_oauth.Flow | None:
    """The flow of ``state``, removed from the session: a state is used once."""
    flow = _find(state)
    if flow is not None:
        session[FLOWS_KEY] = [f for f in session.get(FLOWS_KEY, []) if f.get("state") != state]
    return flow


@connect_bp.route(f"/<{NETWORKS}:network>", methods=["GET", "POST"])
@login_required
def start(agency_slug: str, client_id: uuid.UUID, network: str):  # noqa: ANN201
    client = get_manageable_client(g.access, client_id)
    channel = channel_to_reconnect(client, network)
    data = {"name": channel.name if channel else ""}
    errors: dict = {}
    if request.method == "POST":
        data = data if channel else {"name": request.form.get("name", "")}
        try:
            url, flow = network_oauth.start(g.access, client, network, data, agency_slug, channel)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            _remember(flow)
            # A link, not a redirect: the CSP's form-action 'self' forbids ending on another site.
            return render_template(
                "channels/network_continue.html",
                client=client,
                network=network,
                network_label=_label(network),
                authorize_url=url,
            )
    return render_template(
        "channels/network_connect.html",
        client=client,
        network=network,
        network_label=_label(network),
        configured=network_oauth.oauth_app(network) is not None,
        data=data,
        errors=errors,
        channel=channel,
    ), (422 if errors else 200)


@return_bp.get(f"/<{PROVIDERS}:provider>/callback")
@login_required
def callback(provider: str):  # noqa: ANN201
    """The registered redirect URI: hand the answer to the agency the flow belongs to."""
    flow = _find(request.args.get("state", ""))
    if flow is None or flow.provider != provider:
        flash(_("This sign-in link is not valid any more. Start connecting again."), "danger")
        return redirect(url_for("auth.home"))
    answer = {k: request.args[k] for k in ANSWER_FIELDS if k in request.args}
    target = url_for(
        "network_oauth.agency_callback", agency_slug=flow.agency_slug, provider=provider
    )
    return redirect(f"{target}?{urlencode(answer)}")


@callback_bp.get(f"/<{PROVIDERS}:provider>/callback")
@login_required
def agency_callback(agency_slug: str, provider: str):  # noqa: ANN201
    flow = _take(request.args.get("state", ""))
    if flow is None or flow.provider != provider or flow.agency_slug != agency_slug:
        flash(_("This sign-in link is not valid any more. Start connecting again."), "danger")
        return redirect(url_for("clients.index"))
    client = get_manageable_client(g.access, uuid.UUID(flow.client_id))
    back = url_for("channels.index", client_id=client.id)
    code = request.args.get("code", "")
    if request.args.get("error") or not code:
        reason = request.args.get("error_description") or request.args.get("error") or ""
        flash(
            _(
                "%(network)s did not grant access (%(reason)s), so nothing was connected.",
                network=NETWORK_NAMES[provider],
                reason=reason[:200] or "-",
            ),
            "warning",
        )
        return redirect(back)
    try:
        outcome = network_oauth.finish(g.access, client, flow, code)
    except ValidationFailed as exc:
        flash(" ".join(_messages(exc.errors)) or _("The channel could not be connected."), "danger")
        return redirect(back)
    if isinstance(outcome, network_oauth.Choice):
        _keep_choice(outcome)
        return redirect(url_for("network_connect.choose", client_id=client.id))
    if flow.channel_id:
        flash(_("Reconnected %(name)s.", name=outcome.name), "success")
        return redirect(back)
    return _connected(outcome, back)


def _connected(channel: Channel, back: str):  # noqa: ANN202
    flash(
        _("Connected %(name)s as %(handle)s.", name=channel.name, handle=channel.handle or ""),
        "success",
    )
    return redirect(back)


@connect_bp.route("/choose", methods=["GET", "POST"])
@login_required
def choose(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    client = get_manageable_client(g.access, client_id)
    back = url_for("channels.index", client_id=client.id)
    choice = _kept_choice()
    if choice is None or choice.client_id != str(client.id):
        if request.method == "POST":
            flash(_("This sign-in is over. Start connecting the channel again."), "warning")
            return redirect(back)
        return render_template("channels/network_choose.html", client=client, choice=None)
    errors: dict = {}
    if request.method == "POST":
        try:
            channel = network_oauth.choose(
                g.access, client, choice, request.form.get("account", "")
            )
        except ValidationFailed as exc:
            errors = {"account": _messages(exc.errors)}
        else:
            _drop_choice()
            return _connected(channel, back)
    return render_template(
        "channels/network_choose.html",
        client=client,
        choice=choice,
        network_label=_label(choice.network),
        errors=errors,
        # no secrets in the page: the options are ids and names
    ), (422 if errors else 200)
