"""``Access`` answers DESIGN.md §4, checked cell by cell against a table written out here."""

from __future__ import annotations

import uuid

import pytest

from tenants.models import Role
from tenants.permissions import Access, Permission

P = Permission
OWN, OTHER = uuid.uuid4(), uuid.uuid4()

# Agency-wide answer (no client given) for an agency role, straight from DESIGN.md §4.
AGENCY_ROLE_MAY = {
    Role.OWNER: {P.MANAGE_AGENCY, P.MANAGE_MEMBERS, P.MANAGE_CLIENTS, P.DRAFT_CONTENT,
                 P.INTERNAL_REVIEW, P.COMMENT, P.SEE_CONTENT, P.LOG_TIME, P.BILLING},
    Role.MANAGER: {P.MANAGE_AGENCY, P.MANAGE_MEMBERS, P.MANAGE_CLIENTS, P.DRAFT_CONTENT,
                   P.INTERNAL_REVIEW, P.COMMENT, P.SEE_CONTENT, P.LOG_TIME},
    Role.STAFF: {P.DRAFT_CONTENT, P.COMMENT, P.SEE_CONTENT, P.LOG_TIME},
    Role.FINANCE: {P.BILLING},
}  # fmt: skip
CLIENT_ROLE_MAY = {
    Role.CLIENT_MANAGER: {P.CLIENT_APPROVAL, P.COMMENT, P.SEE_CONTENT, P.READ_OWN_INVOICES},
    Role.CLIENT_VIEWER: {P.SEE_CONTENT},
}


def _access(agency_role: Role | None = None, client_role: Role | None = None) -> Access:
    return Access(
        user=None,  # type: ignore[arg-type]
        agency=None,  # type: ignore[arg-type]
        agency_role=agency_role,
        client_roles={OWN: client_role} if client_role else {},
        assigned_client_ids={OWN} if agency_role == Role.STAFF else set(),
    )


@pytest.mark.parametrize("role", list(AGENCY_ROLE_MAY))
@pytest.mark.parametrize("permission", list(Permission))
def test_agency_role_permissions(role: Role, permission: Permission):
    access = _access(agency_role=role)
    allowed = permission in AGENCY_ROLE_MAY[role]
    assert access.can(permission) is allowed
    # Staff: only for the clients they are assigned to; the others for every client.
    assert access.can(permission, OWN) is allowed
    assert access.can(permission, OTHER) is (allowed and role != Role.STAFF)


@pytest.mark.parametrize("role", list(CLIENT_ROLE_MAY))
@pytest.mark.parametrize("permission", list(Permission))
def test_client_role_permissions_hold_for_their_own_client_only(role, permission):
    access = _access(client_role=role)
    allowed = permission in CLIENT_ROLE_MAY[role]
    assert access.can(permission) is allowed
    assert access.can(permission, OWN) is allowed
    assert access.can(permission, OTHER) is False


def test_visible_clients_per_role():
    for role in (Role.OWNER, Role.MANAGER, Role.FINANCE):
        access = _access(agency_role=role)
        assert access.visible_client_ids() is None and access.sees_all_clients
        assert access.can_see_client(OTHER)
    staff = _access(agency_role=Role.STAFF)
    assert staff.visible_client_ids() == {OWN} and not staff.sees_all_clients
    assert staff.can_see_client(OWN) and not staff.can_see_client(OTHER)
    viewer = _access(client_role=Role.CLIENT_VIEWER)
    assert viewer.visible_client_ids() == {OWN}
    assert not viewer.can_see_client(OTHER)
    assert _access().visible_client_ids() == set()


def test_roles_and_membership():
    both = Access(None, None, Role.STAFF, {OTHER: Role.CLIENT_VIEWER}, {OWN})  # type: ignore[arg-type]
    assert both.roles == {Role.STAFF, Role.CLIENT_VIEWER}
    assert both.is_agency_member
    assert both.visible_client_ids() == {OWN, OTHER}
    client_only = _access(client_role=Role.CLIENT_MANAGER)
    assert client_only.roles == {Role.CLIENT_MANAGER} and not client_only.is_agency_member


def test_who_may_grant_which_role():
    assert all(_access(agency_role=Role.OWNER).may_grant(r) for r in Role)
    manager = _access(agency_role=Role.MANAGER)
    assert not manager.may_grant(Role.OWNER)
    assert all(manager.may_grant(r) for r in Role if r != Role.OWNER)
    for role in (Role.STAFF, Role.FINANCE):
        assert not any(_access(agency_role=role).may_grant(r) for r in Role)
    assert not _access(client_role=Role.CLIENT_MANAGER).may_grant(Role.CLIENT_VIEWER)
