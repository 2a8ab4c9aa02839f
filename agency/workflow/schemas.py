"""marshmallow schemas of the approval-policy API (field names fixed by DESIGN.md §10)."""

from __future__ import annotations

from marshmallow import Schema, fields


class PolicyIn(Schema):
    """Types only; allowed values and approvers are checked by the service."""

    internal_review = fields.Boolean()
    client_approval = fields.String(metadata={"description": "none, any or all"})
    approver_ids = fields.List(
        fields.UUID(),
        metadata={"description": "Active client managers of this client; empty: all of them."},
    )
    reply_policy = fields.String(metadata={"description": "same, internal_only or none"})
    lead_time_hours = fields.Integer(strict=True)
    reminder_hours = fields.List(fields.Integer(strict=True))
    late_rule = fields.String(metadata={"description": "hold, publish_when_approved or notify"})


class PolicyOut(Schema):
    client_id = fields.UUID()
    internal_review = fields.Boolean()
    client_approval = fields.String()
    approver_ids = fields.List(fields.String())
    reply_policy = fields.String()
    lead_time_hours = fields.Integer()
    reminder_hours = fields.List(fields.Integer())
    late_rule = fields.String()
    updated_at = fields.DateTime()
