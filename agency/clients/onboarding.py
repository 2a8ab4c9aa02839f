"""The onboarding checklist of a client company (DESIGN.md §5): the steps shown on its page
until they are done, and what ``service.change_status`` requires before activation."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from agency.db import db, utcnow
from tenants.models import ClientCompany, Invitation, Membership, Role


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    counts: bool = True  # False: shown but not (yet) required for completion


@dataclass(frozen=True)
class Checklist:
    steps: list[Step]

    @property
    def missing(self) -> list[Step]:
        return [s for s in self.steps if s.counts and not s.done]

    @property
    def complete(self) -> bool:
        return not self.missing


def details_complete(client: ClientCompany) -> bool:
    basics = client.legal_name and client.country and client.address and client.billing_email
    tax_id = client.vat_number or client.fiscal_code
    italian_delivery = client.country != "IT" or client.sdi_code or client.pec
    return bool(basics and tax_id and italian_delivery)


def onboarding_checklist(client: ClientCompany) -> Checklist:
    """The onboarding steps of DESIGN.md §5; a constant number of queries."""
    from agency.channels.models import Channel
    from agency.workflow.models import ApprovalPolicy
    from billing.models import RateCard
    from billing.rates import client_today

    now = utcnow()
    # ORM-enabled EXISTS subqueries (``select(...).exists()``), so tenant scoping applies.
    has_channel = db.session.scalar(
        select(select(Channel.id).where(Channel.client_id == client.id).exists())
    )
    has_policy = db.session.scalar(
        select(select(ApprovalPolicy.id).where(ApprovalPolicy.client_id == client.id).exists())
    )
    has_rate_card = db.session.scalar(
        select(
            select(RateCard.id)
            .where(RateCard.client_id == client.id, RateCard.effective_from <= client_today(client))
            .exists()
        )
    )
    # Global tables: filter by agency explicitly (DESIGN.md §3).
    invited = db.session.scalar(
        select(
            select(Invitation.id)
            .where(
                Invitation.agency_id == client.agency_id,
                Invitation.client_id == client.id,
                Invitation.role == Role.CLIENT_MANAGER.value,
                Invitation.revoked_at.is_(None),
                (Invitation.accepted_at.is_not(None)) | (Invitation.expires_at > now),
            )
            .exists()
        )
    )
    member = db.session.scalar(
        select(
            select(Membership.id)
            .where(
                Membership.agency_id == client.agency_id,
                Membership.client_id == client.id,
                Membership.role == Role.CLIENT_MANAGER.value,
                Membership.active.is_(True),
            )
            .exists()
        )
    )
    return Checklist(
        [
            Step("details", _("Legal and billing details complete"), details_complete(client)),
            Step("channel", _("At least one channel connected"), bool(has_channel)),
            Step("policy", _("Approval policy saved"), bool(has_policy)),
            Step("rate_card", _("A rate card in force"), bool(has_rate_card)),
            Step("client_manager", _("A client manager invited"), bool(invited or member)),
        ]
    )
