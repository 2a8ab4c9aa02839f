"""Who sees which post, and how (DESIGN.md §4): agency view or client view.

Owners and managers see every post with its current revision; assigned staff the posts of
their clients. Client users see only posts already sent to them, at the revision last sent
(never the agency's drafts in between), and never internal comments.
"""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, case, false, or_, true

from agency.content.models import Post
from agency.errors import NotFound, PermissionDenied
from tenants.models import Role
from tenants.permissions import Access, Permission


def require_see_content(access: Access) -> None:
    if not access.can(Permission.SEE_CONTENT):
        raise PermissionDenied(_("Your role does not allow this."))


def scope(access: Access) -> tuple[set[uuid.UUID] | None, set[uuid.UUID]]:
    """(clients seen with the agency view, ``None`` = all; clients seen with the client view)."""
    if access.agency_role in (Role.OWNER, Role.MANAGER):
        return None, set()
    agency_ids = set(access.assigned_client_ids) if access.agency_role == Role.STAFF else set()
    client_ids = {cid for cid in access.client_roles if cid not in agency_ids}
    return agency_ids, client_ids


def agency_view(access: Access, client_id: uuid.UUID) -> bool:
    agency_ids, _client_ids = scope(access)
    return agency_ids is None or client_id in agency_ids


def may_see(access: Access, post: Post) -> bool:
    agency_ids, client_ids = scope(access)
    if agency_ids is None or post.client_id in agency_ids:
        return True
    return post.client_id in client_ids and post.client_revision is not None


def visible_filter(access: Access) -> ColumnElement[bool]:
    """SQL condition: posts this user may see."""
    agency_ids, client_ids = scope(access)
    if agency_ids is None:
        return true()
    parts = []
    if agency_ids:
        parts.append(Post.client_id.in_(agency_ids))
    if client_ids:
        parts.append(and_(Post.client_id.in_(client_ids), Post.client_revision.is_not(None)))
    return or_(*parts) if parts else false()


def shown_revision_number(access: Access) -> ColumnElement[int]:
    """SQL expression: the revision number this user sees of a post."""
    agency_ids, client_ids = scope(access)
    if agency_ids is None or not client_ids:
        return Post.revision
    if not agency_ids:
        return Post.client_revision
    return case((Post.client_id.in_(agency_ids), Post.revision), else_=Post.client_revision)


def shown_number(access: Access, post: Post) -> int:
    return post.revision if agency_view(access, post.client_id) else int(post.client_revision or 0)


def not_found() -> NotFound:
    return NotFound(_("No such post."))
