"""Approval policy per client (DESIGN.md §6): who approves, replies, deadlines, late rule."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import select

from agency import audit
from agency.clients.service import require_manage
from agency.db import db
from agency.errors import ValidationFailed
from agency.workflow.models import ApprovalPolicy, ClientApproval, LateRule, ReplyPolicy
from tenants.models import ClientCompany, Membership, Role, User
from tenants.permissions import Access

MAX_LEAD_TIME_HOURS = 24 * 90
MAX_REMINDERS = 10
DEFAULTS: dict[str, object] = {
    "internal_review": True,
    "client_approval": ClientApproval.ANY.value,
    "approver_ids": [],
    "reply_policy": ReplyPolicy.SAME.value,
    "lead_time_hours": 24,
    "reminder_hours": [],
    "late_rule": LateRule.HOLD.value,
}
POLICY_FIELDS = tuple(DEFAULTS)


def find_policy(client: ClientCompany) -> ApprovalPolicy | None:
    return db.session.scalar(select(ApprovalPolicy).where(ApprovalPolicy.client_id == client.id))


def eligible_approvers(client: ClientCompany) -> list[User]:
    """Active client managers of ``client`` (memberships is global: filter the agency)."""
    return list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.agency_id == client.agency_id,
                Membership.client_id == client.id,
                Membership.role == Role.CLIENT_MANAGER.value,
                Membership.active.is_(True),
                User.active.is_(True),
            )
            .order_by(User.name)
        )
    )


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, str):
        value = value.strip()
    return int(value)  # type: ignore[arg-type]


def validate_policy(client: ClientCompany, data: Mapping[str, object]) -> dict[str, object]:
    """Normalised policy values, or ValidationFailed with every field's error at once."""
    errors: dict[str, list[str]] = {}
    out: dict[str, object] = {}
    internal = data.get("internal_review")
    if not isinstance(internal, bool):
        errors["internal_review"] = [_("Use true or false.")]
    out["internal_review"] = internal
    for field, enum_cls in (
        ("client_approval", ClientApproval),
        ("reply_policy", ReplyPolicy),
        ("late_rule", LateRule),
    ):
        value = data.get(field)
        if value not in set(enum_cls):
            errors[field] = [_("Choose one of: %(v)s.", v=", ".join(enum_cls))]
        out[field] = value
    try:
        lead = _int(data.get("lead_time_hours"))
        if not 0 <= lead <= MAX_LEAD_TIME_HOURS:
            raise ValueError(lead)
        out["lead_time_hours"] = lead
    except (TypeError, ValueError):
        errors["lead_time_hours"] = [
            _("Enter whole hours from 0 to %(max)d.", max=MAX_LEAD_TIME_HOURS)
        ]
    reminders = data.get("reminder_hours")
    try:
        if not isinstance(reminders, list | tuple) or len(reminders) > MAX_REMINDERS:
            raise ValueError(reminders)
        hours = sorted({_int(h) for h in reminders}, reverse=True)
        if any(h <= 0 or h > MAX_LEAD_TIME_HOURS for h in hours):
            raise ValueError(hours)
        out["reminder_hours"] = hours
    except (TypeError, ValueError):
        errors["reminder_hours"] = [
            _("Give up to %(n)d positive whole hours, like 24, 4.", n=MAX_REMINDERS)
        ]
    out["approver_ids"] = _validate_approvers(client, data.get("approver_ids"), errors)
    if errors:
        raise ValidationFailed(errors)
    return out


def _validate_approvers(client: ClientCompany, value: object, errors: dict) -> list[str]:
    # An empty list means "every active client manager of this client".
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors["approver_ids"] = [_("Give a list of user ids.")]
        return []
    try:
        wanted = [uuid.UUID(str(v)) for v in value]
    except ValueError:
        errors["approver_ids"] = [_("Give a list of user ids.")]
        return []
    eligible = {u.id for u in eligible_approvers(client)}
    if any(uid not in eligible for uid in wanted):
        errors["approver_ids"] = [_("Approvers must be active client managers of this client.")]
        return []
    return [str(uid) for uid in dict.fromkeys(wanted)]


def save_policy(
    access: Access, client: ClientCompany, data: Mapping[str, object], *, via: str = "web"
) -> ApprovalPolicy:
    """Replace the client's policy with ``data`` (missing fields take defaults); commits."""
    require_manage(access, client.id)
    values = validate_policy(client, {**DEFAULTS, **data})
    policy = find_policy(client)
    created = policy is None
    if policy is None:
        policy = ApprovalPolicy(client_id=client.id)
        db.session.add(policy)
    changed = sorted(k for k in POLICY_FIELDS if created or getattr(policy, k) != values[k])
    for key in POLICY_FIELDS:
        setattr(policy, key, values[key])
    audit.record_by(
        access,
        "approval_policy.saved",
        subject_type="approval_policy",
        client_id=client.id,
        via=via,
        created=created,
        changed=changed,
        **{k: values[k] for k in changed},
    )
    db.session.commit()
    return policy
