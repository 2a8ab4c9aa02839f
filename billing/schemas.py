"""marshmallow schemas of the billing API (field names fixed by DESIGN.md §10).

Money is integer minor units of the currency; ``vat_rate`` a decimal string (percent).
"""

from __future__ import annotations

import uuid

from marshmallow import Schema, fields, validate

from agency.pagination import Cursor
from billing.models import InvoiceKind, InvoiceStatus
from billing.money import CURRENCIES, MAX_MINOR
from billing.timelog import MAX_MINUTES
from tenants.fields import choice_field

_MONEY = validate.Range(min=0, max=MAX_MINOR)
PERIOD_PATTERN = r"^(20\d\d|2100)-(0[1-9]|1[0-2])$"
VAT_PATTERN = r"^(100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)$"


def _money(**kwargs) -> fields.Integer:  # noqa: ANN003
    return fields.Integer(
        strict=True, validate=_MONEY, metadata={"description": "Minor units."}, **kwargs
    )


class RateCardIn(Schema):
    effective_from = fields.Date(required=True)
    currency = choice_field(CURRENCIES, required=True)
    monthly_retainer = _money(required=True)
    posts_included = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=100_000)
    )
    price_per_post = _money(required=True)
    price_per_reply = _money(required=True)
    hourly_rate = _money(required=True)
    vat_rate = fields.String(
        required=True,
        validate=validate.Regexp(VAT_PATTERN),
        metadata={"description": 'Percent, e.g. "22".'},
    )
    payment_terms_days = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=0, max=365)
    )


class RateCardOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    effective_from = fields.Date()
    currency = fields.String()
    monthly_retainer = fields.Integer()
    posts_included = fields.Integer()
    price_per_post = fields.Integer()
    price_per_reply = fields.Integer()
    hourly_rate = fields.Integer()
    vat_rate = fields.String(metadata={"description": 'Percent, e.g. "22.00".'})
    payment_terms_days = fields.Integer()


class TimeEntryIn(Schema):
    client_id = fields.UUID(required=True)
    minutes = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=MAX_MINUTES)
    )
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    date = fields.Date(required=True)
    post_id = fields.UUID(allow_none=True, load_default=None)


class TimeEntryOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    minutes = fields.Integer()
    description = fields.String()
    date = fields.Date(attribute="work_date")
    post_id = fields.UUID(allow_none=True)


class GenerateIn(Schema):
    period = fields.String(
        required=True, validate=validate.Regexp(PERIOD_PATTERN), metadata={"description": "YYYY-MM"}
    )
    client_id = fields.UUID(allow_none=True, load_default=None)


class RunOut(Schema):
    id = fields.String()
    period = fields.String()
    status = fields.String()
    done = fields.Integer()
    total = fields.Integer()
    percent = fields.Integer()
    invoice_ids = fields.List(fields.String())


class LineOut(Schema):
    id = fields.UUID()
    kind = fields.String()
    description = fields.String()
    quantity = fields.String(metadata={"description": 'Decimal, e.g. "1.50".'})
    unit_amount = fields.Integer()
    amount = fields.Integer()
    vat_rate = fields.String(metadata={"description": 'Percent, e.g. "22.00".'})


class InvoiceOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    number = fields.String(allow_none=True)
    status = fields.String()
    kind = fields.String()
    period = fields.String()
    currency = fields.String()
    subtotal = fields.Integer()
    tax = fields.Integer()
    total = fields.Integer()
    issued_at = fields.DateTime(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    credits_invoice_id = fields.UUID(allow_none=True)
    lines = fields.List(fields.Nested(LineOut))


class InvoiceListArgs(Schema):
    period = fields.String(validate=validate.Regexp(PERIOD_PATTERN))
    client_id = fields.UUID()
    status = choice_field(InvoiceStatus)
    kind = choice_field(InvoiceKind)
    cursor = Cursor((str, uuid.UUID))
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class InvoiceListOut(Schema):
    items = fields.List(fields.Nested(InvoiceOut))
    next_cursor = fields.String(allow_none=True)
