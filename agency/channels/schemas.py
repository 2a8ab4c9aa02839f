"""marshmallow schemas of the channels API. Credentials are load-only: never dumped."""

from __future__ import annotations

from marshmallow import Schema, fields


class ChannelIn(Schema):
    network = fields.String(required=True)
    name = fields.String(required=True)
    handle = fields.String(allow_none=True)
    settings = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        load_only=True,
        metadata={"description": "Per-network settings (DESIGN.md §10); secrets included."},
    )


class ChannelPatchIn(Schema):
    name = fields.String()
    status = fields.String(metadata={"description": "`connected` or `disabled`."})
    handle = fields.String(allow_none=True)
    settings = fields.Dict(
        keys=fields.String(),
        load_only=True,
        metadata={"description": "Settings to change; omitted or blank secrets are kept."},
    )


class ChannelOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    network = fields.String()
    name = fields.String()
    handle = fields.String(allow_none=True)
    status = fields.String()
    settings = fields.Dict(metadata={"description": "Non-secret settings only."})
    has_credentials = fields.Boolean()
    credential_fields = fields.List(
        fields.String(), metadata={"description": "Names of stored secrets; values never."}
    )
    created_at = fields.DateTime()


class ChannelListOut(Schema):
    items = fields.List(fields.Nested(ChannelOut))
    next_cursor = fields.String(allow_none=True)
