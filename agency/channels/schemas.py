"""marshmallow schemas of the channels API. Credentials are load-only: never dumped."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from agency.channels.models import ChannelStatus, Network
from tenants.fields import choice_field, name_field

_SETTINGS_VALUE = fields.String(allow_none=True, validate=validate.Length(max=2000))


class ChannelIn(Schema):
    network = choice_field(Network, required=True)
    name = name_field(200, required=True)
    handle = fields.String(allow_none=True, validate=validate.Length(max=200))
    settings = fields.Dict(
        keys=fields.String(validate=validate.Length(max=100)),
        values=_SETTINGS_VALUE,
        load_default=dict,
        load_only=True,
        metadata={"description": "Per-network settings (DESIGN.md §10); secrets included."},
    )


class ChannelPatchIn(Schema):
    name = name_field(200)
    status = choice_field(
        (ChannelStatus.CONNECTED, ChannelStatus.DISABLED),
        metadata={"description": "`connected` or `disabled`."},
    )
    handle = fields.String(allow_none=True, validate=validate.Length(max=200))
    settings = fields.Dict(
        keys=fields.String(validate=validate.Length(max=100)),
        values=_SETTINGS_VALUE,
        load_only=True,
        metadata={"description": "Settings to change; omitted or blank secrets are kept."},
    )


class ChannelOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    network = choice_field(Network)
    name = fields.String()
    handle = fields.String(allow_none=True)
    status = choice_field(ChannelStatus)
    settings = fields.Dict(metadata={"description": "Non-secret settings only."})
    has_credentials = fields.Boolean()
    credential_fields = fields.List(
        fields.String(), metadata={"description": "Names of stored secrets; values never."}
    )
    connection = fields.String(
        validate=validate.OneOf(("connected", "unverified", "needs_reconnect", "disabled")),
        metadata={"description": "`connected` only once the network confirmed the credentials."},
    )
    display_name = fields.String(allow_none=True)
    avatar_url = fields.String(allow_none=True)
    verified_at = fields.DateTime(allow_none=True, metadata={"description": "Last good check."})
    checked_at = fields.DateTime(allow_none=True, metadata={"description": "Last check."})
    check_error = fields.String(allow_none=True, metadata={"description": "Network's refusal."})
    created_at = fields.DateTime()


class ChannelListOut(Schema):
    items = fields.List(fields.Nested(ChannelOut))
    next_cursor = fields.String(allow_none=True)
