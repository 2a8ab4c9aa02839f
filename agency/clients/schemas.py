"""marshmallow schemas of the clients API (field names fixed by DESIGN.md §10)."""

from __future__ import annotations

from marshmallow import Schema, fields

_DETAIL_FIELDS = (
    "legal_name",
    "country",
    "vat_number",
    "fiscal_code",
    "address",
    "billing_email",
    "sdi_code",
    "pec",
)


class ClientOut(Schema):
    id = fields.UUID()
    name = fields.String()
    status = fields.String()
    legal_name = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    vat_number = fields.String(allow_none=True)
    fiscal_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    billing_email = fields.String(allow_none=True)
    sdi_code = fields.String(allow_none=True)
    pec = fields.String(allow_none=True)
    currency = fields.String()
    timezone = fields.String()
    language = fields.String()
    created_at = fields.DateTime()


class ClientCreateIn(Schema):
    """Types only; the rules (VAT id, SDI, duplicates...) are checked by the service."""

    name = fields.String(required=True)
    legal_name = fields.String(allow_none=True)
    country = fields.String(allow_none=True)
    vat_number = fields.String(allow_none=True)
    fiscal_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    billing_email = fields.String(allow_none=True)
    sdi_code = fields.String(allow_none=True)
    pec = fields.String(allow_none=True)
    currency = fields.String()
    timezone = fields.String()
    language = fields.String()


class ClientPatchIn(ClientCreateIn):
    name = fields.String()
    status = fields.String(
        metadata={"description": "Moves the client: active, paused or offboarded."}
    )


class ClientListArgs(Schema):
    status = fields.String()
    cursor = fields.String()
    limit = fields.Integer(load_default=25)


class ClientListOut(Schema):
    items = fields.List(fields.Nested(ClientOut))
    next_cursor = fields.String(allow_none=True)
