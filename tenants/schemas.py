"""marshmallow schemas of the accounts API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class SignupIn(Schema):
    agency_name = fields.String(required=True, validate=validate.Length(max=200))
    name = fields.String(required=True, validate=validate.Length(max=200))
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class TokenIn(Schema):
    email = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    agency = fields.String(required=True, metadata={"description": "The agency's slug."})
    name = fields.String(load_default="API token", validate=validate.Length(max=100))
    expires_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "Optional: the token stops working then (ISO 8601, with zone)."},
    )


class AgencyOut(Schema):
    id = fields.UUID()
    name = fields.String()
    slug = fields.String()


class UserOut(Schema):
    id = fields.UUID()
    name = fields.String()
    email = fields.String()
    locale = fields.String(allow_none=True)
    email_verified = fields.Boolean(
        metadata={"description": "False until the address is confirmed; invitations need it."}
    )


class SignupOut(Schema):
    agency = fields.Nested(AgencyOut)
    user = fields.Nested(UserOut)
    token = fields.String(metadata={"description": "Shown once; store it safely."})


class TokenOut(Schema):
    token = fields.String(metadata={"description": "Shown once; store it safely."})
    expires_at = fields.DateTime(allow_none=True)


class ClientRoleOut(Schema):
    client_id = fields.UUID()
    role = fields.String()


class MeOut(Schema):
    user = fields.Nested(UserOut)
    agency = fields.Nested(AgencyOut)
    roles = fields.List(fields.String())
    client_roles = fields.List(fields.Nested(ClientRoleOut))
