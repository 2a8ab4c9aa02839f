"""marshmallow schemas of the clients API (field names fixed by DESIGN.md §10).

Allowed values and lengths are stated here so the OpenAPI document says what the service
enforces; rules a JSON schema cannot state (VAT checksums, Italian SDI/PEC) stay in the
service and answer 422 with field errors.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from agency.clients.service import CURSOR_KINDS
from agency.clients.validation import (
    LANGUAGES,
    POSTAL_CODE_PATTERN,
    country_codes,
    currencies,
    timezones,
)
from agency.pagination import Cursor
from tenants.fields import choice_field, email_field, name_field
from tenants.models import ClientStatus

MAX_PAGE_SIZE = 100


def _text(max_length: int) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=max_length))


class _ClientDetails(Schema):
    """The editable details, shared by what the API takes and what it returns."""

    legal_name = _text(300)
    country = choice_field(
        sorted(country_codes()),
        allow_none=True,
        metadata={"description": "ISO 3166-1 alpha-2."},
    )
    vat_number = _text(40)
    fiscal_code = _text(40)
    address = _text(500)
    postal_code = fields.String(
        allow_none=True,
        validate=[validate.Length(max=20), validate.Regexp(POSTAL_CODE_PATTERN)],
        metadata={"description": "Letters, digits, spaces, dashes; Italy: the 5-digit CAP."},
    )
    city = _text(100)
    province = fields.String(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "Italy: the two-letter province code (MI, RM)."},
    )
    billing_email = email_field(allow_none=True)
    sdi_code = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^[A-Za-z0-9]{7}$"),
        metadata={"description": "Italian e-invoicing code; 0000000 needs a PEC."},
    )
    pec = email_field(allow_none=True)
    currency = choice_field(
        currencies(), metadata={"description": "ISO 4217; default: the agency's currency."}
    )
    timezone = choice_field(
        sorted(timezones()), metadata={"description": "Default: the agency's time zone."}
    )
    language = choice_field(LANGUAGES, metadata={"description": "Default: the agency's."})


class ClientOut(_ClientDetails):
    id = fields.UUID()
    name = fields.String()
    status = choice_field(ClientStatus)
    created_at = fields.DateTime()


class ClientSavedOut(ClientOut):
    warnings = fields.List(
        fields.String(),
        metadata={"description": "Accepted, but worth a look (e.g. another client's VAT id)."},
    )


class ClientCreateIn(_ClientDetails):
    name = name_field(200, required=True)


class ClientPatchIn(_ClientDetails):
    name = name_field(200)
    status = choice_field(
        ClientStatus,
        metadata={"description": "Moves the client: active, paused or offboarded."},
    )


class ClientListArgs(Schema):
    status = choice_field(ClientStatus)
    cursor = Cursor(CURSOR_KINDS)
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class ClientListOut(Schema):
    items = fields.List(fields.Nested(ClientOut))
    next_cursor = fields.String(allow_none=True)
