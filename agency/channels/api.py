"""Channels API: ``GET, POST /api/v1/clients/{id}/channels`` and one channel's resource."""

from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from agency.channels import connect, service
from agency.channels.models import Channel
from agency.channels.schemas import ChannelIn, ChannelListOut, ChannelOut, ChannelPatchIn
from agency.clients.service import get_client, get_manageable_client
from agency.extensions import csrf

blp = Blueprint(
    "api-channels", __name__, url_prefix="/api/v1", description="Channels of client companies"
)


def _out(channel: Channel) -> dict:
    # Built field by field so credentials can never slip into a response.
    return {
        "id": channel.id,
        "client_id": channel.client_id,
        "network": channel.network,
        "name": channel.name,
        "handle": channel.handle,
        "status": channel.status,
        "settings": dict(channel.settings or {}),
        "has_credentials": bool(channel.credentials_encrypted),
        "credential_fields": service.credential_fields(channel),
        "connection": connect.connection_state(channel),
        "display_name": channel.display_name,
        "avatar_url": channel.avatar_url,
        "verified_at": channel.verified_at,
        "checked_at": channel.checked_at,
        "check_error": channel.check_error,
        "created_at": channel.created_at,
    }


@blp.route("/clients/<uuid:client_id>/channels")
class Channels(MethodView):
    @blp.response(200, ChannelListOut)
    def get(self, client_id: uuid.UUID):
        """The client's channels (credentials never returned)."""
        client = get_client(g.access, client_id)
        items = [_out(c) for c in service.list_channels(g.access, client)]
        return {"items": items, "next_cursor": None}

    @blp.arguments(ChannelIn)
    @blp.response(201, ChannelOut)
    @blp.alt_response(422, description="Unknown network or missing/invalid settings.")
    def post(self, data: dict, client_id: uuid.UUID):
        """Register a channel: `{network, name, settings}`.

        The credentials are checked with the network first; a refusal is a 422 with the
        network's message and nothing is saved. A network Regia cannot check yet is saved with
        `connection: unverified`.
        """
        client = get_manageable_client(g.access, client_id)
        return _out(connect.add_channel(g.access, client, data, via="api"))


@blp.route("/clients/<uuid:client_id>/channels/<uuid:channel_id>")
class ChannelResource(MethodView):
    @blp.response(200, ChannelOut)
    def get(self, client_id: uuid.UUID, channel_id: uuid.UUID):
        """One channel (credentials never returned)."""
        client = get_client(g.access, client_id)
        return _out(service.get_channel(g.access, client, channel_id))

    @blp.arguments(ChannelPatchIn)
    @blp.response(200, ChannelOut)
    def patch(self, data: dict, client_id: uuid.UUID, channel_id: uuid.UUID):
        """Change name, handle, settings or `status` (connected, disabled).

        Blank or omitted secrets are kept, unless an endpoint (a base URL or a webhook `url`)
        changes: then every secret of the channel must be sent again in the same request.
        Changed credentials are checked with the network (422 with its message if refused).
        """
        client = get_manageable_client(g.access, client_id)
        channel = service.get_channel(g.access, client, channel_id)
        status = data.pop("status", None)
        return _out(connect.update_channel(g.access, channel, data, status, via="api"))

    @blp.response(204)
    def delete(self, client_id: uuid.UUID, channel_id: uuid.UUID):
        """Remove a channel."""
        client = get_manageable_client(g.access, client_id)
        channel = service.get_channel(g.access, client, channel_id)
        service.delete_channel(g.access, channel, via="api")


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)
