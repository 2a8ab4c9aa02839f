"""marshmallow schemas of the team API: invitations, members, agency settings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from agency.clients.validation import (
    LANGUAGES,
    POSTAL_CODE_PATTERN,
    country_codes,
    currencies,
    timezones,
)
from agency.team.agency_settings import TAX_REGIMES
from tenants.fields import choice_field, email_field, name_field
from tenants.models import Role
from tenants.schemas import UserOut

ROLES = [r.value for r in Role]


class InvitationIn(Schema):
    email = email_field(required=True)
    role = choice_field(ROLES, required=True)
    client_id = fields.UUID(load_default=None, allow_none=True)
    assigned_client_ids = fields.List(fields.UUID(), load_default=list)


class InvitationOut(Schema):
    id = fields.UUID()
    email = fields.String()
    role = choice_field(ROLES)
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
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
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
    role = choice_field(ROLES)
    client_id = fields.UUID(allow_none=True)
    active = fields.Boolean()
    assigned_client_ids = fields.List(fields.UUID())


class MemberListOut(Schema):
    items = fields.List(fields.Nested(MemberOut))
    next_cursor = fields.String(allow_none=True)


class MemberPatchIn(Schema):
    role = choice_field(ROLES)
    active = fields.Boolean()
    assigned_client_ids = fields.List(fields.UUID())


class AgencySettingsSchema(Schema):
    id = fields.UUID(dump_only=True)
    slug = fields.String(dump_only=True)
    name = name_field(200)
    legal_name = fields.String(allow_none=True, validate=validate.Length(max=300))
    country = choice_field(sorted(country_codes()), allow_none=True)
    vat_number = fields.String(allow_none=True, validate=validate.Length(max=40))
    fiscal_code = fields.String(allow_none=True, validate=validate.Length(max=40))
    address = fields.String(
        allow_none=True,
        validate=validate.Length(max=500),
        metadata={"description": "Street and number."},
    )
    postal_code = fields.String(
        allow_none=True,
        validate=[validate.Length(max=20), validate.Regexp(POSTAL_CODE_PATTERN)],
        metadata={"description": "Letters, digits, spaces, dashes; Italy: the 5-digit CAP."},
    )
    city = fields.String(allow_none=True, validate=validate.Length(max=100))
    province = fields.String(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "Italy: the two-letter province code (MI, RM)."},
    )
    iban = fields.String(
        allow_none=True,
        validate=validate.Length(max=42),
        metadata={"description": "For bank transfers; printed on invoices (FatturaPA MP05)."},
    )
    tax_regime = choice_field(TAX_REGIMES, allow_none=True)
    default_locale = choice_field(LANGUAGES)
    timezone = choice_field(sorted(timezones()))
    default_currency = choice_field(currencies())
    has_logo = fields.Function(lambda agency: bool(agency.logo_filename), dump_only=True)
