"""marshmallow schemas of the accounts API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from tenants.fields import email_field, moment_field, name_field
from tenants.models import CLIENT_ROLES, Role
from tenants.passwords import MIN_PASSWORD_LENGTH

MAX_PASSWORD_LENGTH = 1024


class SignupIn(Schema):
    agency_name = name_field(200, required=True)
    name = name_field(200, required=True)
    email = email_field(required=True)
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
    )


class TokenIn(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(max=MAX_PASSWORD_LENGTH)
    )
    agency = fields.String(
        required=True,
        validate=validate.Length(max=80),
        metadata={"description": "The agency's slug."},
    )
    name = name_field(100, load_default="API token")
    expires_at = moment_field(
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
    role = fields.String(validate=validate.OneOf([r.value for r in CLIENT_ROLES]))


class MeOut(Schema):
    user = fields.Nested(UserOut)
    agency = fields.Nested(AgencyOut)
    roles = fields.List(fields.String(validate=validate.OneOf([r.value for r in Role])))
    client_roles = fields.List(fields.Nested(ClientRoleOut))
