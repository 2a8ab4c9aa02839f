"""Who is asking, and as which agency: one SQL statement per request (DESIGN.md §10).

A bearer token, or a session cookie plus the agency slug of the URL, is resolved with the
user, the agency, the live memberships and a staff member's assigned clients in a single
SELECT. On PostgreSQL the same statement sets the transaction's ``app.agency_id`` (the RLS
setting), so the tenant is in place without another round trip. The setting is only ever
set from a row that passed every check written in the WHERE clause (token hash, not
revoked, not expired, user active, membership active); a row refused afterwards in Python
rolls the transaction back, which drops the setting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Row, Select, String, and_, bindparam, case, cast, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from agency.db import db, utcnow
from tenants.models import Agency, ApiToken, Membership, Role, StaffAssignment, User, UserSession
from tenants.permissions import Access
from tenants.scoping import ALL_TENANTS, SETS_RLS, rls_set_by_statement

# The identity query reads staff_assignments (a tenant table) for an agency that is not in
# context yet: it names the agency itself and, on PostgreSQL, RLS binds it all the same.
_OPTIONS = {ALL_TENANTS: True, SETS_RLS: True}

# The statements are built once per dialect (building one costs more Python than running
# it): their values are bound parameters, and SQLAlchemy's compiled cache does the rest.
_STATEMENTS: dict[tuple[str, str], Select] = {}


def _statement(kind: str, build) -> Select:  # noqa: ANN001 - a function of no arguments
    key = (kind, "postgresql" if db.is_postgresql else "other")
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


class AgencyLink(NamedTuple):
    """An agency of the agency switcher (what ``agencies_of`` gives, without the ORM)."""

    id: uuid.UUID
    name: str
    slug: str


def _agencies_column() -> ColumnElement:
    """The user's agencies (live memberships) as a JSON array of [id, name, slug]."""
    # Aliases: the outer statement has its own agencies and memberships to correlate with.
    member, agency = aliased(Membership), aliased(Agency)
    mine = select(member.agency_id).where(member.user_id == User.id, member.active.is_(True))
    link = (agency.id, agency.name, agency.slug)
    if db.is_postgresql:
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        items = func.json_agg(aggregate_order_by(func.json_build_array(*link), agency.name))
    else:  # SQLite: ordered in Python by the same code-point order as its BINARY collation
        items = func.json_group_array(func.json_array(*link))
    found = select(items).where(agency.id.in_(mine.correlate(User)))
    return found.correlate(User).scalar_subquery().label("my_agencies")


def _agency_links(value: str | list | None) -> list[AgencyLink]:
    items = json.loads(value) if isinstance(value, str) else value or []
    links = [AgencyLink(uuid.UUID(str(i)), name, slug) for i, name, slug in items]
    return links if db.is_postgresql else sorted(links, key=lambda a: a.name)


def _rls_column(agency_id: ColumnElement) -> ColumnElement:
    """``set_config('app.agency_id', <agency>, true)`` on PostgreSQL, a constant elsewhere.

    It is the first column: PostgreSQL projects columns in order, so the staff subquery
    after it already runs under the setting (were it not, it would see no row: fail closed).
    """
    if db.is_postgresql:
        value = func.coalesce(cast(agency_id, String), "")
        return func.set_config("app.agency_id", value, True).label("rls")
    return literal(None).label("rls")


def _membership_columns() -> tuple[ColumnElement, ...]:
    staff_clients = (
        select(func.aggregate_strings(cast(StaffAssignment.client_id, String), ","))
        .where(
            StaffAssignment.membership_id == Membership.id,
            StaffAssignment.agency_id == Membership.agency_id,
            Membership.role == Role.STAFF.value,
            Membership.client_id.is_(None),
        )
        .scalar_subquery()
    )
    return (Membership.role, Membership.client_id, staff_clients.label("staff_clients"))


def _access(user: User, agency: Agency, rows: Sequence[Row]) -> Access:
    """The ``Access`` built from one row per live membership (as ``load_access`` does)."""
    access = Access(user=user, agency=agency)
    for row in rows:
        role = Role(row.role)
        if row.client_id is not None:
            access.client_roles[row.client_id] = role
            continue
        access.agency_role = role
        if role == Role.STAFF and row.staff_clients:
            access.assigned_client_ids = {uuid.UUID(v) for v in row.staff_clients.split(",")}
    return access


def refuse_identity() -> None:
    """A row was read (and the RLS setting perhaps set) but is refused: undo the setting."""
    db.session.rollback()


def resolve_api_identity(
    token_hash: str, now: datetime | None = None
) -> tuple[ApiToken, Access] | None:
    """A live token and the access it grants, or None; one statement."""
    now = now or utcnow()
    stmt = _statement("api", _api_statement)
    params = {"token_hash": token_hash, "now": now}
    rows = db.session.execute(stmt, params, execution_options=_OPTIONS).all()
    if not rows:
        return None
    token, user, agency = rows[0].ApiToken, rows[0].User, rows[0].Agency
    rls_set_by_statement(db.session(), agency.id if db.is_postgresql else None)
    if token_refused(token, user, now):
        refuse_identity()
        return None
    return token, _access(user, agency, rows)


def token_refused(token: ApiToken, user: User, now: datetime) -> bool:
    """The WHERE clause's checks, repeated in Python so a wrong query cannot widen it:
    revoked, expired (at its expiry instant too), or its user inactive."""
    expired = token.expires_at is not None and token.expires_at <= now
    return token.revoked_at is not None or expired or not user.active


def _api_statement() -> Select:
    """A token's row per live membership, with its user and agency (``resolve_api_identity``)."""
    return (
        select(_rls_column(Agency.id), ApiToken, User, Agency, *_membership_columns())
        .select_from(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .join(Agency, Agency.id == ApiToken.agency_id)
        .join(
            Membership,
            and_(
                Membership.user_id == ApiToken.user_id,
                Membership.agency_id == ApiToken.agency_id,
                Membership.active.is_(True),
            ),
        )
        .where(
            ApiToken.token_hash == bindparam("token_hash"),
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now")),
            User.active.is_(True),
        )
    )


def resolve_session_identity(
    user_id: uuid.UUID, session_id: uuid.UUID, agency_slug: str | None
) -> tuple[User, Access | None, list[AgencyLink] | None] | None:
    """The user of a live server-side session and, for ``agency_slug``, their access there
    and the agencies of their switcher.

    None when the session is unknown or revoked or the user inactive; access None when
    they are signed in but no live member of that agency. One statement either way.
    """
    params = {"user_id": user_id, "session_id": session_id}
    if agency_slug is None:
        user = db.session.scalar(_statement("session_user", _session_user_statement), params)
        return None if user is None else (user, None, None)
    stmt = _statement("session", _session_statement)
    params["agency_slug"] = agency_slug
    rows = db.session.execute(stmt, params, execution_options=_OPTIONS).all()
    if not rows:
        return None
    user, agency = rows[0].User, rows[0].Agency
    if db.is_postgresql:  # the statement set it: to the agency, or to '' for a non-member
        rls_set_by_statement(db.session(), agency.id if agency is not None else None)
    links = _agency_links(rows[0].my_agencies)
    if agency is None:
        return user, None, links
    return user, _access(user, agency, rows), links


def _session_live() -> ColumnElement[bool]:
    return and_(
        User.id == bindparam("user_id"),
        UserSession.id == bindparam("session_id"),
        UserSession.revoked_at.is_(None),
        User.active.is_(True),
    )


def _session_user_statement() -> Select:
    """The user of a live session, outside any agency (``resolve_session_identity``)."""
    return select(User).join(UserSession, UserSession.user_id == User.id).where(_session_live())


def _session_statement() -> Select:
    """The user of a live session with their access to the agency ``agency_slug`` names and
    the switcher's agencies (``resolve_session_identity``)."""
    slug_agency = select(Agency.id).where(Agency.slug == bindparam("agency_slug")).scalar_subquery()
    member_agency = case((Membership.id.is_not(None), Agency.id), else_=None)
    return (
        select(_rls_column(member_agency), User, Agency, *_membership_columns())
        .add_columns(_agencies_column())
        .select_from(User)
        .join(UserSession, UserSession.user_id == User.id)
        .outerjoin(
            Membership,
            and_(
                Membership.user_id == User.id,
                Membership.agency_id == slug_agency,
                Membership.active.is_(True),
            ),
        )
        .outerjoin(Agency, Agency.id == Membership.agency_id)
        .where(_session_live())
    )
