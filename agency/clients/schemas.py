"""marshmallow schemas of the clients API (field names fixed by DESIGN.md §10)."""

from __future__ import annotations

from marshmallow import Schema, fields

from agency.clients.service import CURSOR_KINDS
from agency.pagination import Cursor


class _ClientDetails(Schema):
    """The editable details, shared by what the API takes and what it returns."""

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


class ClientOut(_ClientDetails):
    id = fields.UUID()
    name = fields.String()
    status = fields.String()
    created_at = fields.DateTime()


class ClientCreateIn(_ClientDetails):
    """Types only; the rules (VAT id, SDI, duplicates...) are checked by the service."""

    name = fields.String(required=True)


class ClientPatchIn(ClientCreateIn):
    name = fields.String()
    status = fields.String(
        metadata={"description": "Moves the client: active, paused or offboarded."}
    )


class ClientListArgs(Schema):
    status = fields.String()
    cursor = Cursor(CURSOR_KINDS)
    limit = fields.Integer(load_default=25)


class ClientListOut(Schema):
    items = fields.List(fields.Nested(ClientOut))
    next_cursor = fields.String(allow_none=True)
