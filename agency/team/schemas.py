"""marshmallow schemas of the team API: invitations, members, agency settings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from tenants.schemas import UserOut


class InvitationIn(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    role = fields.String(required=True, validate=validate.Length(max=20))
    client_id = fields.UUID(load_default=None, allow_none=True)
    assigned_client_ids = fields.List(fields.UUID(), load_default=list)


class InvitationOut(Schema):
    id = fields.UUID()
    email = fields.String()
    role = fields.String()
    client_id = fields.UUID(allow_none=True)
    assigned_client_ids = fields.List(fields.String())
    expires_at = fields.DateTime()
    send_count = fields.Integer()
    status = fields.String()


class InvitationSentOut(InvitationOut):
    accept_url = fields.String()
    token = fields.String(metadata={"description": "Shown once; it is also in the e-mail."})


class InvitationListOut(Schema):
    items = fields.List(fields.Nested(InvitationOut))
    next_cursor = fields.String(allow_none=True)


class AcceptIn(Schema):
    token = fields.String(required=True, validate=validate.Length(max=200))
    name = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "New accounts only."},
    )
    password = fields.String(
        load_default="",
        load_only=True,
        validate=validate.Length(max=1024),
        metadata={
            "description": "New accounts only. An address that already has an account "
            "accepts with its own bearer token instead; no password is taken for it."
        },
    )


class AcceptOut(Schema):
    user = fields.Nested(UserOut)
    token = fields.String(metadata={"description": "An API token for the agency; shown once."})


class MemberOut(Schema):
    id = fields.UUID()
    user = fields.Nested(UserOut)
    role = fields.String()
    client_id = fields.UUID(allow_none=True)
    active = fields.Boolean()
    assigned_client_ids = fields.List(fields.UUID())


class MemberListOut(Schema):
    items = fields.List(fields.Nested(MemberOut))
    next_cursor = fields.String(allow_none=True)


class MemberPatchIn(Schema):
    role = fields.String(validate=validate.Length(max=20))
    active = fields.Boolean()
    assigned_client_ids = fields.List(fields.UUID())


class AgencySettingsSchema(Schema):
    id = fields.UUID(dump_only=True)
    slug = fields.String(dump_only=True)
    name = fields.String(validate=validate.Length(max=200))
    legal_name = fields.String(allow_none=True, validate=validate.Length(max=300))
    country = fields.String(allow_none=True, validate=validate.Length(max=2))
    vat_number = fields.String(allow_none=True, validate=validate.Length(max=40))
    fiscal_code = fields.String(allow_none=True, validate=validate.Length(max=40))
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    tax_regime = fields.String(allow_none=True, validate=validate.Length(max=4))
    default_locale = fields.String(validate=validate.Length(max=8))
    timezone = fields.String(validate=validate.Length(max=64))
    default_currency = fields.String(validate=validate.Length(max=3))
    has_logo = fields.Function(lambda agency: bool(agency.logo_filename), dump_only=True)
