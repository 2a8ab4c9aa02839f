"""marshmallow schemas of the approval-policy API (field names fixed by DESIGN.md §10)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from agency.workflow.models import ClientApproval, LateRule, ReplyPolicy
from agency.workflow.service import MAX_LEAD_TIME_HOURS, MAX_REMINDERS
from tenants.fields import choice_field

_HOURS = validate.Range(min=0, max=MAX_LEAD_TIME_HOURS)


class PolicyIn(Schema):
    """The whole policy (PUT replaces it): an empty body is a 422, never a silent reset.

    Approvers are checked against the client's managers by the service."""

    internal_review = fields.Boolean(required=True)
    client_approval = choice_field(ClientApproval, required=True)
    approver_ids = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "Active client managers of this client; empty: all of them."},
    )
    reply_policy = choice_field(ReplyPolicy, required=True)
    lead_time_hours = fields.Integer(strict=True, required=True, validate=_HOURS)
    reminder_hours = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_LEAD_TIME_HOURS)),
        load_default=list,
        validate=validate.Length(max=MAX_REMINDERS),
    )
    late_rule = choice_field(LateRule, required=True)


class PolicyOut(Schema):
    client_id = fields.UUID()
    internal_review = fields.Boolean()
    client_approval = choice_field(ClientApproval)
    approver_ids = fields.List(fields.String())
    reply_policy = choice_field(ReplyPolicy)
    lead_time_hours = fields.Integer()
    reminder_hours = fields.List(fields.Integer())
    late_rule = choice_field(LateRule)
    updated_at = fields.DateTime()
