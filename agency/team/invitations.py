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
from sqlalchemy import select

from agency import audit
from agency.db import db, utcnow
from agency.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from agency.team.service import client_ids_in_agency, ensure_manage_members, role_problem
from tenants import service as accounts
from tenants.context import tenant_context
from tenants.models import Agency, Invitation, Membership, Role, User
from tenants.passwords import password_problems, verify_password
from tenants.permissions import Access


class InvitationUnusable(DomainError):
    """The link is unknown, expired, used or revoked: one answer (410) for all four."""

    http_status = 410


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
        _refuse_duplicates(access.agency, email, wanted, client_uuid, errors)
    if errors or wanted is None:
        raise ValidationFailed(errors)
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
    db.session.add(invitation)
    db.session.flush()
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
    agency: Agency, email: str, role: Role, client_id: uuid.UUID | None, errors: dict
) -> None:
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
        errors["email"] = [_("This person already has a pending invitation; resend it instead.")]


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


def find_usable(token: str, *, lock: bool = False) -> Invitation:
    """The pending invitation for ``token``; ``InvitationUnusable`` (410) for anything else."""
    invitation = None
    if token and len(token) <= 200:
        stmt = select(Invitation).where(Invitation.token_hash == hash_token(token))
        if lock:
            stmt = stmt.with_for_update()
        invitation = db.session.scalar(stmt)
    if invitation is None:
        raise InvitationUnusable(_("This invitation link is not valid."))
    state = status_of(invitation)
    if state == "accepted":
        raise InvitationUnusable(_("This invitation has already been used."))
    if state == "revoked":
        raise InvitationUnusable(_("This invitation has been withdrawn."))
    if state == "expired":
        raise InvitationUnusable(_("This invitation has expired. Ask for a new one."))
    return invitation


def existing_account(invitation: Invitation) -> User | None:
    return accounts.find_user_by_email(invitation.email)


def accept_invitation(
    token: str, name: str, password: str, *, via: str = "web"
) -> tuple[User, Agency, Membership]:
    """Accept: a new account (name + password) or, when the e-mail has one, its password.

    Commits the membership (and account); raises ``InvitationUnusable`` or ``ValidationFailed``
    and writes nothing when anything is wrong.
    """
    invitation = find_usable(token, lock=True)
    user = existing_account(invitation)
    if user is not None:
        if not user.active or not verify_password(user.password_hash, password or ""):
            db.session.rollback()
            raise ValidationFailed(
                {"password": [_("Enter the password of your existing account.")]}
            )
    else:
        errors: dict[str, list[str]] = {}
        name_problem = accounts.person_name_problem(name)
        if name_problem:
            errors["name"] = [name_problem]
        problems = password_problems(password or "")
        if problems:
            errors["password"] = problems
        if errors:
            db.session.rollback()
            raise ValidationFailed(errors)
        user = accounts.create_user(name, invitation.email, password)
        db.session.flush()
    membership = _join(invitation, user)
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    with tenant_context(invitation.agency_id):
        audit.record(
            "invitation.accepted",
            actor_id=user.id,
            subject_type="membership",
            subject_id=membership.id,
            client_id=invitation.client_id,
            via=via,
            role=invitation.role,
            invitation_id=invitation.id,
        )
        db.session.flush()  # stamped with the agency while it is in context
    db.session.commit()
    return user, invitation.agency, membership


def _join(invitation: Invitation, user: User) -> Membership:
    role = Role(invitation.role)
    same_scope = Membership.client_id.is_(None)
    if invitation.client_id is not None:
        same_scope = Membership.client_id == invitation.client_id
    membership = db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.agency_id == invitation.agency_id, same_scope
        )
    )
    if membership is not None and membership.active:
        db.session.rollback()
        raise ValidationFailed({"email": [_("You are already a member here.")]})
    if membership is None:
        membership = accounts.add_membership(user, invitation.agency, role, invitation.client_id)
    else:
        membership.role, membership.active = role.value, True  # re-invited after deactivation
        db.session.flush()
    for client_id in invitation.assigned_client_ids or []:
        accounts.assign_staff(membership, uuid.UUID(client_id))
    return membership


def _email_invitation(invitation: Invitation, token: str, inviter: User) -> None:
    from agency.mail.service import render_mail, send_mail
    from agency.team.agency_settings import logo_inline_image

    agency = invitation.agency
    user = existing_account(invitation)
    locale = (user.locale if user else None) or agency.default_locale or "en"
    client_name = None
    if invitation.client_id is not None:
        from tenants.models import ClientCompany

        with tenant_context(agency.id):
            client_name = db.session.scalar(
                select(ClientCompany.name).where(ClientCompany.id == invitation.client_id)
            )
    logo = logo_inline_image(agency)
    mail = render_mail(
        "team/email/invitation",
        locale,
        agency_name=agency.name,
        inviter_name=inviter.name,
        role=invitation.role,
        client_name=client_name,
        link=accept_url(token),
        expires_at=invitation.expires_at,
        has_account=user is not None,
        logo_cid=logo["cid"] if logo else None,
    )
    send_mail(
        invitation.email, mail.subject, mail.text, mail.html, inline_images=[logo] if logo else []
    )
