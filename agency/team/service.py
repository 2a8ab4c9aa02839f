"""Members of an agency: list, change role, assign staff, deactivate, transfer ownership.

Rules (DESIGN.md §4): owners and managers manage members; managers never grant the owner
role nor touch an owner; the last owner can never be demoted, deactivated or removed.
Every permission change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from agency import audit
from agency.db import db, utcnow
from agency.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from tenants.context import tenant_context
from tenants.models import (
    AGENCY_ROLES,
    CLIENT_ROLES,
    ApiToken,
    ClientCompany,
    Membership,
    Role,
    StaffAssignment,
    User,
)
from tenants.permissions import Access, Permission


class MemberConflict(DomainError):
    """The change would leave the agency without an owner, or lock out its author."""

    http_status = 409


def ensure_manage_members(access: Access) -> None:
    if not access.can(Permission.MANAGE_MEMBERS):
        raise PermissionDenied(_("Your role does not allow managing members."))


def role_problem(role: str | None, errors: dict[str, list[str]]) -> Role | None:
    """The ``Role`` named by ``role``, or None with a field error added."""
    try:
        return Role(role or "")
    except ValueError:
        errors["role"] = [_("Choose one of the roles.")]
        return None


def client_ids_in_agency(access: Access, values: list) -> list[uuid.UUID] | None:
    """``values`` as client ids of the current agency, or None if any is unknown or malformed."""
    try:
        ids = list(dict.fromkeys(uuid.UUID(str(v)) for v in values))
    except ValueError:
        return None
    if not ids:
        return []
    with tenant_context(access.agency.id):
        found = set(db.session.scalars(select(ClientCompany.id).where(ClientCompany.id.in_(ids))))
    return ids if found == set(ids) else None


@dataclass
class MemberRow:
    membership: Membership
    user: User
    client_name: str | None = None
    assigned: list[ClientCompany] = field(default_factory=list)


def list_members(access: Access) -> list[MemberRow]:
    """Every membership of the agency with user, client and assignments: three queries."""
    ensure_manage_members(access)
    memberships = db.session.scalars(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.agency_id == access.agency.id)
        .order_by(
            Membership.active.desc(), Membership.client_id.is_not(None), Membership.created_at
        )
    ).all()
    with tenant_context(access.agency.id):
        clients = {c.id: c for c in db.session.scalars(select(ClientCompany))}
        pairs = db.session.execute(
            select(StaffAssignment.membership_id, StaffAssignment.client_id)
        ).all()
    assigned: dict[uuid.UUID, list[ClientCompany]] = {}
    for membership_id, client_id in pairs:
        if client_id in clients:
            assigned.setdefault(membership_id, []).append(clients[client_id])
    return [
        MemberRow(
            membership=m,
            user=m.user,
            client_name=clients[m.client_id].name if m.client_id in clients else None,
            assigned=sorted(assigned.get(m.id, []), key=lambda c: c.name),
        )
        for m in memberships
    ]


def all_clients(access: Access) -> list[ClientCompany]:
    with tenant_context(access.agency.id):
        return list(db.session.scalars(select(ClientCompany).order_by(ClientCompany.name)))


def get_membership(access: Access, membership_id: uuid.UUID | str) -> Membership:
    try:
        uid = uuid.UUID(str(membership_id))
    except ValueError as exc:
        raise NotFound(_("No such member.")) from exc
    membership = db.session.scalar(
        select(Membership)
        .options(joinedload(Membership.user))
        .where(Membership.id == uid, Membership.agency_id == access.agency.id)
    )
    if membership is None:
        raise NotFound(_("No such member."))
    return membership


def _ensure_may_manage(access: Access, membership: Membership) -> None:
    ensure_manage_members(access)
    if membership.role == Role.OWNER.value and access.agency_role != Role.OWNER:
        raise PermissionDenied(_("Only an owner can change another owner."))


def _active_owner_ids(agency_id: uuid.UUID) -> list[uuid.UUID]:
    # Row locks: two owners demoting each other at once must not leave none.
    return list(
        db.session.scalars(
            select(Membership.id)
            .where(
                Membership.agency_id == agency_id,
                Membership.role == Role.OWNER.value,
                Membership.active.is_(True),
                Membership.client_id.is_(None),
            )
            .with_for_update()
        )
    )


def _ensure_not_last_owner(membership: Membership) -> None:
    if membership.role != Role.OWNER.value or not membership.active:
        return
    if _active_owner_ids(membership.agency_id) == [membership.id]:
        db.session.rollback()
        raise MemberConflict(
            _("The agency must keep at least one owner. Transfer ownership to someone first.")
        )


def _audit(access: Access, action: str, membership: Membership, via: str, **data: object) -> None:
    audit.record_by(
        access,
        action,
        subject_type="membership",
        subject_id=membership.id,
        client_id=membership.client_id,
        via=via,
        user_id=membership.user_id,
        **data,
    )


def change_role(
    access: Access, membership_id: uuid.UUID | str, role: str, *, via: str = "web"
) -> Membership:
    membership = get_membership(access, membership_id)
    _ensure_may_manage(access, membership)
    errors: dict[str, list[str]] = {}
    wanted = role_problem(role, errors)
    if wanted is None:
        raise ValidationFailed(errors)
    if not access.may_grant(wanted):
        raise PermissionDenied(_("Your role cannot grant %(role)s.", role=wanted.value))
    allowed = CLIENT_ROLES if membership.client_id is not None else AGENCY_ROLES
    if wanted not in allowed:
        raise ValidationFailed(
            {"role": [_("A client membership takes a client role; an agency one an agency role.")]}
        )
    old = membership.role
    if old == wanted.value:
        return membership
    if wanted != Role.OWNER:
        _ensure_not_last_owner(membership)
    membership.role = wanted.value
    # A new role starts from no assignments (only staff have them; a returning staff
    # member gets exactly what is assigned from now on, never the old set).
    set_staff_assignments(membership, [])
    _audit(access, "member.role_changed", membership, via, old_role=old, new_role=wanted.value)
    db.session.commit()
    return membership


def set_assignments(
    access: Access, membership_id: uuid.UUID | str, client_ids: list, *, via: str = "web"
) -> Membership:
    membership = get_membership(access, membership_id)
    _ensure_may_manage(access, membership)
    if membership.role != Role.STAFF.value:
        raise ValidationFailed({"client_ids": [_("Only staff members are assigned to clients.")]})
    ids = client_ids_in_agency(access, client_ids)
    if ids is None:
        raise ValidationFailed({"client_ids": [_("Choose among this agency's client companies.")]})
    set_staff_assignments(membership, ids)
    _audit(access, "member.assignments_changed", membership, via, client_ids=[str(i) for i in ids])
    db.session.commit()
    return membership


def update_member(
    access: Access, membership_id: uuid.UUID | str, changes: dict, *, via: str = "web"
) -> Membership:
    """Change role, assigned clients and/or active state (the API's PATCH).

    Everything that can be checked up front is checked before anything is written, so a
    refused change (an unknown client id, assignments for a non-staff role) writes nothing.
    """
    membership = get_membership(access, membership_id)
    _ensure_may_manage(access, membership)
    role = str(changes.get("role", membership.role))
    if "assigned_client_ids" in changes:
        wanted = changes["assigned_client_ids"] or []
        if wanted and role != Role.STAFF.value:
            raise ValidationFailed(
                {"assigned_client_ids": [_("Only staff members are assigned to clients.")]}
            )
        if client_ids_in_agency(access, wanted) is None:
            raise ValidationFailed(
                {"assigned_client_ids": [_("Choose among this agency's client companies.")]}
            )
    if "role" in changes:
        change_role(access, membership_id, changes["role"], via=via)
    # An empty list for a role that takes no assignments (what GET /members shows a manager)
    # is nothing to do; a role change away from staff has already cleared them.
    if "assigned_client_ids" in changes and role == Role.STAFF.value:
        set_assignments(access, membership_id, changes["assigned_client_ids"], via=via)
    if "active" in changes:
        set_active(access, membership_id, changes["active"], via=via)
    return membership


def set_staff_assignments(membership: Membership, ids: list[uuid.UUID]) -> None:
    """Make ``membership``'s assigned clients exactly ``ids`` (flushes, does not commit)."""
    with tenant_context(membership.agency_id):
        current = {
            a.client_id: a
            for a in db.session.scalars(
                select(StaffAssignment).where(StaffAssignment.membership_id == membership.id)
            )
        }
        for client_id, assignment in current.items():
            if client_id not in ids:
                db.session.delete(assignment)
        for client_id in ids:
            if client_id not in current:
                db.session.add(StaffAssignment(membership_id=membership.id, client_id=client_id))
        db.session.flush()


def set_active(
    access: Access, membership_id: uuid.UUID | str, active: bool, *, via: str = "web"
) -> Membership:
    """Deactivate (sessions and API tokens stop at the next request) or reactivate a member."""
    membership = get_membership(access, membership_id)
    _ensure_may_manage(access, membership)
    if membership.active == active:
        return membership
    if not active:
        _ensure_not_last_owner(membership)
        if membership.user_id == access.user.id and membership.client_id is None:
            raise MemberConflict(_("You cannot deactivate yourself."))
        # Tokens are bound to the agency: revoke them so reactivation does not revive them.
        db.session.execute(
            update(ApiToken)
            .where(
                ApiToken.user_id == membership.user_id,
                ApiToken.agency_id == membership.agency_id,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
        # Whoever reactivates or re-invites them decides their clients afresh.
        set_staff_assignments(membership, [])
    membership.active = active
    _audit(access, "member.activated" if active else "member.deactivated", membership, via)
    db.session.commit()
    return membership


def transfer_ownership(
    access: Access, membership_id: uuid.UUID | str, *, via: str = "web"
) -> Membership:
    """The target member becomes owner; the current owner becomes a manager."""
    if access.agency_role != Role.OWNER:
        raise PermissionDenied(_("Only an owner can transfer ownership."))
    target = get_membership(access, membership_id)
    mine = db.session.scalar(
        select(Membership).where(
            Membership.user_id == access.user.id,
            Membership.agency_id == access.agency.id,
            Membership.client_id.is_(None),
            Membership.active.is_(True),
        )
    )
    if target.client_id is not None or not target.active or mine is None or target.id == mine.id:
        raise ValidationFailed(
            {"membership_id": [_("Choose another active member of the agency team.")]}
        )
    old_role = target.role
    target.role = Role.OWNER.value
    mine.role = Role.MANAGER.value
    _audit(access, "member.role_changed", target, via, old_role=old_role, new_role="owner")
    _audit(access, "member.role_changed", mine, via, old_role="owner", new_role="manager")
    _audit(access, "agency.ownership_transferred", target, via, from_user_id=access.user.id)
    set_staff_assignments(target, [])
    db.session.commit()
    return target
