"""The client's approval policy as it applies to one post (DESIGN.md §6).

Replies follow ``reply_policy``: ``same`` as posts, ``internal_only`` (internal review, no
client step), or ``none`` (no approval at all: replies are time-critical).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from agency.content.models import PostKind
from agency.workflow.models import ApprovalPolicy, ClientApproval, LateRule, ReplyPolicy
from agency.workflow.service import DEFAULTS, eligible_approvers, find_policy
from tenants.models import ClientCompany


@dataclass(frozen=True)
class EffectivePolicy:
    internal_review: bool
    client_approval: str  # none | any | all
    approver_ids: frozenset[uuid.UUID]  # who may decide the client step
    lead_time_hours: int
    late_rule: str
    reminder_hours: tuple[int, ...] = ()

    @property
    def needs_client(self) -> bool:
        return self.client_approval != ClientApproval.NONE.value

    def deadline(self, scheduled_at: datetime | None) -> datetime | None:
        """Approval deadline: ``scheduled_at`` minus the lead time."""
        if scheduled_at is None:
            return None
        return scheduled_at - timedelta(hours=self.lead_time_hours)

    def client_step_complete(self, approved_by: set[uuid.UUID]) -> bool:
        """Do these approvals of the current revision settle the client step?"""
        relevant = approved_by & self.approver_ids
        if self.client_approval == ClientApproval.ALL.value:
            return relevant == self.approver_ids
        return bool(relevant)


def awaiting_client_policy(client: ClientCompany, kind: str) -> EffectivePolicy:
    """The policy a post already waiting for the client is decided under.

    The client's approval may be switched off after a post was sent to them: that post keeps
    waiting under the rule it was sent with, and stays theirs to decide (in the portal and on
    its review link), not stranded. Its client step is then settled by any one of the client
    managers the policy names (every client manager if it names none).
    """
    policy = effective_policy(client, kind)
    if policy.needs_client:
        return policy
    saved: ApprovalPolicy | None = find_policy(client)
    active = {u.id for u in eligible_approvers(client)}
    named = {uuid.UUID(str(i)) for i in (saved.approver_ids if saved else None) or []}
    approvers = frozenset(named & active) if named & active else frozenset(active)
    return replace(policy, client_approval=ClientApproval.ANY.value, approver_ids=approvers)


def effective_policy(client: ClientCompany, kind: str) -> EffectivePolicy:
    """The policy a post of ``kind`` for ``client`` follows now."""
    saved: ApprovalPolicy | None = find_policy(client)
    values = {k: getattr(saved, k) for k in DEFAULTS} if saved else dict(DEFAULTS)
    internal = bool(values["internal_review"])
    client_approval = str(values["client_approval"])
    if kind == PostKind.REPLY.value:
        reply = values["reply_policy"]
        if reply == ReplyPolicy.INTERNAL_ONLY.value:
            internal, client_approval = True, ClientApproval.NONE.value
        elif reply == ReplyPolicy.NONE.value:
            internal, client_approval = False, ClientApproval.NONE.value
    approvers: frozenset[uuid.UUID] = frozenset()
    if client_approval != ClientApproval.NONE.value:
        active = {u.id for u in eligible_approvers(client)}
        named = {uuid.UUID(str(i)) for i in values["approver_ids"] or []}
        # Named approvers who left no longer count; none named means every client manager.
        approvers = frozenset(named & active) if named else frozenset(active)
    return EffectivePolicy(
        internal_review=internal,
        client_approval=client_approval,
        approver_ids=approvers,
        lead_time_hours=int(values["lead_time_hours"]),
        late_rule=str(values["late_rule"] or LateRule.HOLD.value),
        reminder_hours=tuple(int(h) for h in values["reminder_hours"] or []),
    )
