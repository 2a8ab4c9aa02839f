"""Roles and what they may do (DESIGN.md §4), as data.

``Access`` is what one user may do in one agency; it is built once per request (or job)
from the memberships and answers every permission question.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from tenants.models import Agency, Role, User


class Permission(enum.StrEnum):
    MANAGE_AGENCY = "manage_agency"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_CLIENTS = "manage_clients"
    DRAFT_CONTENT = "draft_content"
    INTERNAL_REVIEW = "internal_review"
    CLIENT_APPROVAL = "client_approval"
    COMMENT = "comment"
    SEE_CONTENT = "see_content"
    LOG_TIME = "log_time"
    BILLING = "billing"
    READ_OWN_INVOICES = "read_own_invoices"


# Agency-wide grants. "scoped" roles get the permission only for the clients they may see.
_GRANTS: dict[Permission, set[Role]] = {
    Permission.MANAGE_AGENCY: {Role.OWNER, Role.MANAGER},
    Permission.MANAGE_MEMBERS: {Role.OWNER, Role.MANAGER},
    Permission.MANAGE_CLIENTS: {Role.OWNER, Role.MANAGER},
    Permission.DRAFT_CONTENT: {Role.OWNER, Role.MANAGER, Role.STAFF},
    Permission.INTERNAL_REVIEW: {Role.OWNER, Role.MANAGER},
    Permission.CLIENT_APPROVAL: {Role.CLIENT_MANAGER},
    Permission.COMMENT: {Role.OWNER, Role.MANAGER, Role.STAFF, Role.CLIENT_MANAGER},
    Permission.SEE_CONTENT: {
        Role.OWNER,
        Role.MANAGER,
        Role.STAFF,
        Role.CLIENT_MANAGER,
        Role.CLIENT_VIEWER,
    },
    Permission.LOG_TIME: {Role.OWNER, Role.MANAGER, Role.STAFF},
    Permission.BILLING: {Role.OWNER, Role.FINANCE},
    Permission.READ_OWN_INVOICES: {Role.CLIENT_MANAGER},
}

# Roles a member may grant to others (managers may not create owners).
GRANTABLE: dict[Role, set[Role]] = {
    Role.OWNER: set(Role),
    Role.MANAGER: set(Role) - {Role.OWNER},
}


@dataclass
class Access:
    user: User
    agency: Agency
    agency_role: Role | None = None
    client_roles: dict[uuid.UUID, Role] = field(default_factory=dict)
    assigned_client_ids: set[uuid.UUID] = field(default_factory=set)

    @property
    def roles(self) -> set[Role]:
        roles = set(self.client_roles.values())
        if self.agency_role:
            roles.add(self.agency_role)
        return roles

    @property
    def is_agency_member(self) -> bool:
        return self.agency_role is not None

    @property
    def sees_all_clients(self) -> bool:
        return self.agency_role in (Role.OWNER, Role.MANAGER, Role.FINANCE)

    def visible_client_ids(self) -> set[uuid.UUID] | None:
        """``None`` means every client of the agency."""
        if self.sees_all_clients:
            return None
        ids = set(self.client_roles)
        if self.agency_role == Role.STAFF:
            ids |= self.assigned_client_ids
        return ids

    def can_see_client(self, client_id: uuid.UUID) -> bool:
        visible = self.visible_client_ids()
        return visible is None or client_id in visible

    def can(self, permission: Permission, client_id: uuid.UUID | None = None) -> bool:
        """May this user do ``permission`` (for ``client_id`` when it concerns one client)?"""
        granted = _GRANTS[permission]
        if self.agency_role in granted:
            if self.agency_role == Role.STAFF and client_id is not None:
                return client_id in self.assigned_client_ids
            return True
        if client_id is None:
            return any(role in granted for role in self.client_roles.values())
        return self.client_roles.get(client_id) in granted

    def may_grant(self, role: Role) -> bool:
        return self.agency_role is not None and role in GRANTABLE.get(self.agency_role, set())
