"""Accepting an invitation.

A new address sets its name and password on the accept page. An address that already has
an account is accepted by that account *while signed in* (web session, or its own bearer
token on the API): the accept endpoints never check a password, so they cannot be used to
guess one.
"""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agency import audit
from agency.db import db, utcnow
from agency.errors import DomainError, PermissionDenied, ValidationFailed
from agency.team.invitations import hash_token, status_of
from agency.team.service import set_staff_assignments
from tenants import service as accounts
from tenants.context import tenant_context
from tenants.models import Agency, Invitation, Membership, Role, User
from tenants.passwords import password_problems


class InvitationUnusable(DomainError):
    """The link is unknown, expired, used or revoked: one answer (410) for all four."""

    http_status = 410


class SignInRequired(DomainError):
    """The invited address has an account: its owner accepts while signed in."""

    http_status = 401


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
    token: str,
    name: str = "",
    password: str = "",
    *,
    signed_in: User | None = None,
    via: str = "web",
) -> tuple[User, Agency, Membership]:
    """Accept as ``signed_in`` (required, and must be the invitee, when the address has an
    account) or as a new account with ``name`` and ``password``.

    Commits the membership (and account); raises ``InvitationUnusable``, ``SignInRequired``,
    ``PermissionDenied`` or ``ValidationFailed`` and writes nothing when anything is wrong.
    """
    invitation = find_usable(token, lock=True)
    user = existing_account(invitation)
    if signed_in is not None and signed_in.email != invitation.email:
        db.session.rollback()
        raise PermissionDenied(
            _(
                "This invitation is for %(email)s; you are signed in as another account.",
                email=invitation.email,
            )
        )
    if user is not None:
        if signed_in is None or signed_in.id != user.id or not user.active:
            db.session.rollback()
            raise SignInRequired(
                _(
                    "%(email)s already has a Regia account: sign in as that account to accept.",
                    email=invitation.email,
                )
            )
        if user.email_verified_at is None:
            user.email_verified_at = utcnow()  # the link reached them
    else:
        user = _new_account(invitation, name, password)
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


def _new_account(invitation: Invitation, name: str, password: str) -> User:
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
    # The link reached this address, so the address is verified.
    user = accounts.create_user(name, invitation.email, password, verified=True)
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another invitation to this address was accepted at the same moment (uq_users_email).
        db.session.rollback()
        message = _(
            "An account for %(email)s was created a moment ago: sign in with it, "
            "then open this invitation again.",
            email=invitation.email,
        )
        raise ValidationFailed({"email": [message]}) from exc
    return user


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
        try:
            membership = accounts.add_membership(
                user, invitation.agency, role, invitation.client_id
            )
        except IntegrityError as exc:
            # A concurrent accept made this membership first (uq_memberships_agency_team).
            db.session.rollback()
            raise ValidationFailed({"email": [_("You are already a member here.")]}) from exc
    else:
        membership.role, membership.active = role.value, True  # re-invited after deactivation
        db.session.flush()
    # Re-derived from this invitation alone: nothing from an earlier membership survives.
    set_staff_assignments(membership, [uuid.UUID(c) for c in invitation.assigned_client_ids or []])
    return membership
