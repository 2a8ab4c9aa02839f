"""Invitations: e-mailed, single-use, expiring, revocable links to join an agency or a client.

Tokens are random and only their sha256 is stored; the plain token exists in the e-mailed
link (and the API's answer to the inviter) only.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from agency import audit
from agency.db import db, utcnow
from agency.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from agency.team.service import (
    client_ids_in_agency,
    ensure_manage_members,
    role_problem,
)
from tenants import service as accounts
from tenants import throttle
from tenants.context import tenant_context
from tenants.models import Agency, Invitation, Membership, Role, User
from tenants.permissions import Access


def ttl() -> timedelta:
    return timedelta(hours=current_app.config["REGIA"].invitation_ttl_hours)


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def accept_url(token: str) -> str:
    return f"{current_app.config['REGIA'].base_url}/invitations/{token}"


def status_of(invitation: Invitation) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= utcnow():
        return "expired"
    return "pending"


def create_invitation(
    access: Access,
    email: str,
    role: str,
    client_id: uuid.UUID | str | None = None,
    assigned_client_ids: list | None = None,
    *,
    via: str = "web",
) -> tuple[Invitation, str]:
    """Invite ``email`` as ``role``; commits, e-mails the link and returns it with the token."""
    ensure_manage_members(access)
    errors: dict[str, list[str]] = {}
    wanted = role_problem(role, errors)
    if wanted is not None and not access.may_grant(wanted):
        raise PermissionDenied(_("Your role cannot invite someone as %(role)s.", role=role))
    email = accounts.normalize_email(email)
    problem = accounts.email_problem(email) if email else _("Enter an e-mail address.")
    if problem:
        errors["email"] = [problem]
    client_uuid, assigned = _client_fields(access, wanted, client_id, assigned_client_ids, errors)
    if not errors and wanted is not None:
        _refuse_duplicates(access.agency, email, client_uuid, errors)
    if errors or wanted is None:
        raise ValidationFailed(errors)
    _throttle_sending(access, email)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        agency_id=access.agency.id,
        email=email,
        role=wanted.value,
        client_id=client_uuid,
        assigned_client_ids=[str(c) for c in assigned],
        token_hash=hash_token(token),
        invited_by_id=access.user.id,
        expires_at=utcnow() + ttl(),
        last_sent_at=utcnow(),
        send_count=1,
    )
    _close_expired(access.agency, email, client_uuid)
    db.session.add(invitation)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # A concurrent request invited the same address first (uq_invitations_pending_*).
        db.session.rollback()
        raise ValidationFailed({"email": [_pending_already()]}) from exc
    audit.record_by(
        access,
        "invitation.created",
        subject_type="invitation",
        subject_id=invitation.id,
        client_id=client_uuid,
        via=via,
        email=email,
        role=wanted.value,
    )
    db.session.commit()
    _email_invitation(invitation, token, access.user)
    return invitation, token


def _client_fields(
    access: Access,
    role: Role | None,
    client_id: uuid.UUID | str | None,
    assigned_client_ids: list | None,
    errors: dict[str, list[str]],
) -> tuple[uuid.UUID | None, list[uuid.UUID]]:
    if role is None:
        return None, []
    if role.is_client_role:
        if assigned_client_ids:
            errors["assigned_client_ids"] = [_("Only staff members are assigned to clients.")]
        ids = client_ids_in_agency(access, [client_id] if client_id else [])
        if not client_id:
            errors["client_id"] = [_("Choose the client company.")]
        elif ids is None:
            errors["client_id"] = [_("Choose one of this agency's client companies.")]
        return (ids[0] if ids else None), []
    if client_id:
        errors["client_id"] = [_("Only client roles belong to a client company.")]
    assigned = list(assigned_client_ids or [])
    if assigned and role != Role.STAFF:
        errors["assigned_client_ids"] = [_("Only staff members are assigned to clients.")]
        return None, []
    ids = client_ids_in_agency(access, assigned)
    if ids is None:
        errors["assigned_client_ids"] = [_("Choose among this agency's client companies.")]
        return None, []
    return None, ids


def _refuse_duplicates(
    agency: Agency, email: str, client_id: uuid.UUID | None, errors: dict
) -> None:
    """A live member or a live pending invitation for this address, in the same place (the
    agency, or this client), refuses the new invitation."""
    member = db.session.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            User.email == email,
            Membership.agency_id == agency.id,
            Membership.client_id.is_(None)
            if client_id is None
            else Membership.client_id == client_id,
            Membership.active.is_(True),
        )
    )
    if member is not None:
        errors["email"] = [_("This person is already a member.")]
        return
    pending = db.session.scalars(
        select(Invitation).where(
            Invitation.agency_id == agency.id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
    ).all()
    if any(inv.client_id == client_id for inv in pending):
        errors["email"] = [_pending_already()]


def _pending_already() -> str:
    return _("This person already has a pending invitation; resend it instead.")


def _close_expired(agency: Agency, email: str, client_id: uuid.UUID | None) -> None:
    """An expired, unused invitation is closed when a new one replaces it (one pending each)."""
    now = utcnow()
    db.session.execute(
        update(Invitation)
        .where(
            Invitation.agency_id == agency.id,
            Invitation.email == email,
            Invitation.client_id.is_(None)
            if client_id is None
            else Invitation.client_id == client_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at <= now,
        )
        .values(revoked_at=now)
    )


def get_invitation(access: Access, invitation_id: uuid.UUID | str) -> Invitation:
    """An invitation of the current agency, else NotFound (another agency's answers 404 too)."""
    try:
        uid = uuid.UUID(str(invitation_id))
    except ValueError as exc:
        raise NotFound(_("No such invitation.")) from exc
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.id == uid, Invitation.agency_id == access.agency.id)
    )
    if invitation is None:
        raise NotFound(_("No such invitation."))
    return invitation


def pending_invitations(access: Access) -> list[Invitation]:
    ensure_manage_members(access)
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.agency_id == access.agency.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .order_by(Invitation.created_at.desc())
            .limit(200)
        )
    )


def _ensure_may_touch(access: Access, invitation: Invitation) -> None:
    ensure_manage_members(access)
    if not access.may_grant(Role(invitation.role)):
        raise PermissionDenied(_("Your role cannot manage this invitation."))
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise DomainError(_("This invitation was already used or revoked."))


def revoke_invitation(access: Access, invitation_id: uuid.UUID | str, *, via: str = "web") -> None:
    invitation = get_invitation(access, invitation_id)
    _ensure_may_touch(access, invitation)
    invitation.revoked_at = utcnow()
    audit.record_by(
        access,
        "invitation.revoked",
        subject_type="invitation",
        subject_id=invitation.id,
        client_id=invitation.client_id,
        via=via,
        email=invitation.email,
    )
    db.session.commit()


def resend_invitation(
    access: Access, invitation_id: uuid.UUID | str, *, via: str = "web"
) -> tuple[Invitation, str]:
    """A fresh token (the old link stops working) and a fresh expiry, e-mailed again."""
    invitation = get_invitation(access, invitation_id)
    _ensure_may_touch(access, invitation)
    _throttle_sending(access, invitation.email)
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.expires_at = utcnow() + ttl()
    invitation.last_sent_at = utcnow()
    invitation.send_count += 1
    audit.record_by(
        access,
        "invitation.resent",
        subject_type="invitation",
        subject_id=invitation.id,
        client_id=invitation.client_id,
        via=via,
        email=invitation.email,
    )
    db.session.commit()
    _email_invitation(invitation, token, access.user)
    return invitation, token


def mail_locale(invitation: Invitation) -> str:
    """The recipient's language: their own choice if they have an account, else the client's
    language for client roles, else the agency's default."""
    user = accounts.find_user_by_email(invitation.email)
    if user is not None and user.locale:
        return user.locale
    if invitation.client_id is not None:
        from tenants.models import ClientCompany

        with tenant_context(invitation.agency_id):
            language = db.session.scalar(
                select(ClientCompany.language).where(ClientCompany.id == invitation.client_id)
            )
        if language:
            return language
    return invitation.agency.default_locale or "en"


def _throttle_sending(access: Access, email: str) -> None:
    """Invitations and resends per agency and per recipient: no spam relay in our name."""
    if access.user.email_verified_at is None:
        raise PermissionDenied(
            _("Verify your e-mail address before sending invitations: see your account page.")
        )
    throttle.hit("invitation_rate_limit", "invite-agency", str(access.agency.id))
    throttle.hit("invitation_recipient_rate_limit", "invite-recipient", email)


def _email_invitation(invitation: Invitation, token: str, inviter: User) -> None:
    from agency.mail.service import in_language, render_mail, send_mail
    from agency.team.agency_settings import logo_inline_image

    agency = invitation.agency
    user = accounts.find_user_by_email(invitation.email)
    client_name = None
    if invitation.client_id is not None:
        from tenants.models import ClientCompany

        with tenant_context(agency.id):
            client_name = db.session.scalar(
                select(ClientCompany.name).where(ClientCompany.id == invitation.client_id)
            )
    logo = logo_inline_image(agency)
    locale = mail_locale(invitation)
    mail = render_mail(
        "team/email/invitation",
        locale,
        agency_name=agency.name,
        inviter_name=inviter.name,
        role=invitation.role,
        client_name=client_name,
        link=in_language(accept_url(token), locale),
        expires_at=invitation.expires_at,
        timezone=agency.timezone,
        has_account=user is not None,
        logo_cid=logo["cid"] if logo else None,
    )
    send_mail(
        invitation.email,
        mail.subject,
        mail.text,
        mail.html,
        inline_images=[logo] if logo else [],
        agency_id=agency.id,
    )
