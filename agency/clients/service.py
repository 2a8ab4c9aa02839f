"""Client companies: who may see and change which, listing, creation, edits and status
transitions. The details' validation and defaults live in ``details``, the onboarding checklist
in ``onboarding``.

Every function takes the caller's ``Access``: an invisible client is ``NotFound`` (404, no
existence oracle), a visible one the role may not change is ``PermissionDenied`` (403).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import Row, Select, func, select, tuple_
from sqlalchemy.exc import IntegrityError

from agency import audit
from agency.clients.details import EDITABLE_FIELDS, client_defaults, validate_details
from agency.clients.onboarding import onboarding_checklist
from agency.db import db, violates_unique
from agency.errors import IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from agency.pagination import BadCursor, decode_cursor, encode_cursor
from tenants.models import ClientCompany, ClientStatus
from tenants.permissions import Access, Permission

# Status actions and the states they may start from.
TRANSITIONS: dict[str, tuple[set[ClientStatus], ClientStatus]] = {
    "activate": ({ClientStatus.ONBOARDING, ClientStatus.PAUSED}, ClientStatus.ACTIVE),
    "resume": ({ClientStatus.PAUSED}, ClientStatus.ACTIVE),
    "pause": ({ClientStatus.ACTIVE}, ClientStatus.PAUSED),
    "offboard": (
        {ClientStatus.ONBOARDING, ClientStatus.ACTIVE, ClientStatus.PAUSED},
        ClientStatus.OFFBOARDED,
    ),
}
TARGET_ACTION = {
    ClientStatus.ACTIVE: "activate",
    ClientStatus.PAUSED: "pause",
    ClientStatus.OFFBOARDED: "offboard",
}
PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def require_manage(access: Access, client_id: uuid.UUID | None = None) -> None:
    if not access.can(Permission.MANAGE_CLIENTS, client_id):
        raise PermissionDenied(_("Your role does not allow this."))


def get_client(access: Access, client_id: uuid.UUID) -> ClientCompany:
    """The client if this user may see it; otherwise NotFound (also for other agencies)."""
    # A SELECT, not Session.get: an identity-map hit would skip the tenant criteria.
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == client_id))
    if client is None or not access.can_see_client(client.id):
        raise NotFound(_("No such client."))
    return client


def get_manageable_client(access: Access, client_id: uuid.UUID) -> ClientCompany:
    client = get_client(access, client_id)
    require_manage(access, client.id)
    return client


# -- listing ------------------------------------------------------------------------------


CURSOR_KINDS = (str, uuid.UUID)  # (name, id): the list's sort key


def _decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        return decode_cursor(cursor, CURSOR_KINDS)
    except BadCursor as exc:
        raise ValidationFailed(
            {"cursor": [_("This cursor is not valid.")]}, location="query"
        ) from exc


def list_clients(
    access: Access, *, status: str | None = None, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list[ClientCompany], str | None]:
    """One page of visible clients ordered by name, and the cursor of the next page (or None)."""
    rows, next_cursor = _page(select(ClientCompany), access, status, cursor, limit)
    return [row[0] for row in rows], next_cursor


#: What the API shows of a client (``ClientOut``): read as plain rows, no ORM objects.
LISTED_COLUMNS = ("id", "name", "status", "created_at", *EDITABLE_FIELDS[1:])


def list_client_rows(
    access: Access, *, status: str | None = None, cursor: str | None = None, limit: int = PAGE_SIZE
) -> tuple[list, str | None]:
    """``list_clients`` as rows of ``LISTED_COLUMNS`` (the API list: no ORM objects to build)."""
    columns = [getattr(ClientCompany, name) for name in LISTED_COLUMNS]
    return _page(select(*columns), access, status, cursor, limit)


def _page(
    stmt: Select, access: Access, status: str | None, cursor: str | None, limit: int
) -> tuple[list[Row], str | None]:
    """The page's rows (at most ``limit``) and the next page's cursor (or None)."""
    if status and status not in set(ClientStatus):
        raise ValidationFailed({"status": [_("Unknown status.")]}, location="query")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    stmt = stmt.order_by(ClientCompany.name, ClientCompany.id)
    visible = access.visible_client_ids()
    if visible is not None:
        stmt = stmt.where(ClientCompany.id.in_(visible))
    if status:
        stmt = stmt.where(ClientCompany.status == status)
    if cursor:
        name, cid = _decode_cursor(cursor)
        stmt = stmt.where(tuple_(ClientCompany.name, ClientCompany.id) > (name, cid))
    rows = db.session.execute(stmt.limit(limit + 1)).all()
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    last = last[0] if isinstance(last[0], ClientCompany) else last  # an entity, or columns
    return rows[:limit], encode_cursor(last.name, last.id)


# -- create / edit ------------------------------------------------------------------------


def _name_taken(name: str, exclude_id: uuid.UUID | None) -> bool:
    # Case-insensitive, like the unique index uq_client_companies_name_ci.
    condition = func.lower(ClientCompany.name) == name.lower()
    if exclude_id is not None:
        condition = condition & (ClientCompany.id != exclude_id)
    # An ORM-enabled EXISTS: a Core ``exists()`` escapes the ORM's tenant scoping.
    return bool(db.session.scalar(select(select(ClientCompany.id).where(condition).exists())))


def _duplicate_name() -> ValidationFailed:
    return ValidationFailed({"name": [_("A client with this name already exists.")]})


def _commit_or_duplicate() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if violates_unique(exc, "uq_client_companies_name_ci"):
            raise _duplicate_name() from exc
        raise


def create_client(access: Access, data: Mapping[str, object], *, via: str = "web") -> ClientCompany:
    """Create a client in status onboarding; commits. Raises ValidationFailed/PermissionDenied."""
    require_manage(access)
    given = {k: data[k] for k in EDITABLE_FIELDS if k in data and data[k] is not None}
    values = validate_details({**client_defaults(access), **given})
    if _name_taken(str(values["name"]), None):
        raise _duplicate_name()
    # The id is set here so the audit row can name it before the (single) flush at commit.
    client = ClientCompany(id=uuid.uuid4(), status=ClientStatus.ONBOARDING.value, **values)
    db.session.add(client)
    audit.record_by(
        access,
        "client.created",
        subject_type="client",
        subject_id=client.id,
        client_id=client.id,
        via=via,
        name=client.name,
    )
    _commit_or_duplicate()
    return client


def update_client(
    access: Access,
    client: ClientCompany,
    data: Mapping[str, object],
    *,
    via: str = "web",
    commit: bool = True,
) -> ClientCompany:
    """Apply the given fields (others kept), validating the result as a whole; commits."""
    require_manage(access, client.id)
    merged = {field: getattr(client, field) for field in EDITABLE_FIELDS}
    merged.update({k: data[k] for k in EDITABLE_FIELDS if k in data})
    values = validate_details(merged)
    if values["name"] != client.name and _name_taken(str(values["name"]), client.id):
        raise _duplicate_name()
    changed = sorted(k for k, value in values.items() if getattr(client, k) != value)
    for k in changed:
        setattr(client, k, values[k])
    if changed:
        audit.record_by(
            access,
            "client.updated",
            subject_type="client",
            subject_id=client.id,
            client_id=client.id,
            via=via,
            fields=changed,
        )
    if commit:
        _commit_or_duplicate()
    return client


def change_status(
    access: Access, client: ClientCompany, action: str, *, via: str = "web", commit: bool = True
) -> ClientCompany:
    """Move the client along ``TRANSITIONS``; an illegal move raises IllegalTransition (409)."""
    require_manage(access, client.id)
    if action not in TRANSITIONS:
        raise ValidationFailed({"action": [_("Unknown action.")]})
    sources, target = TRANSITIONS[action]
    current = ClientStatus(client.status)
    if current not in sources:
        raise IllegalTransition(
            _(
                "A client that is %(status)s cannot be moved to %(target)s.",
                status=current.value,
                target=target.value,
            )
        )
    if current == ClientStatus.ONBOARDING and target == ClientStatus.ACTIVE:
        missing = [step.label for step in onboarding_checklist(client).missing]
        if missing:
            raise IllegalTransition(
                _("Finish onboarding first: %(steps)s.", steps="; ".join(missing))
            )
    client.status = target.value
    audit.record_by(
        access,
        "client.status_changed",
        subject_type="client",
        subject_id=client.id,
        client_id=client.id,
        via=via,
        old=current.value,
        new=target.value,
    )
    if commit:
        db.session.commit()
    return client


def transition_to(
    access: Access, client: ClientCompany, status: str, *, via: str = "api", commit: bool = True
) -> ClientCompany:
    """The API's ``PATCH {"status": ...}``: the action that leads to ``status``."""
    if status == client.status:
        return client
    try:
        action = TARGET_ACTION[ClientStatus(status)]
    except ValueError as exc:
        raise ValidationFailed({"status": [_("Unknown status.")]}) from exc
    except KeyError as exc:
        raise IllegalTransition(_("A client cannot go back to onboarding.")) from exc
    return change_status(access, client, action, via=via, commit=commit)


def patch_client(
    access: Access,
    client: ClientCompany,
    data: Mapping[str, object],
    status: str | None,
    *,
    via: str = "api",
) -> ClientCompany:
    """Details and status in one change: all of it is written, or (on any error) none."""
    try:
        if data:
            update_client(access, client, data, via=via, commit=False)
        if status is not None:
            transition_to(access, client, status, via=via, commit=False)
    except Exception:
        db.session.rollback()
        raise
    _commit_or_duplicate()
    return client


def allowed_actions(client: ClientCompany) -> list[str]:
    current = ClientStatus(client.status)
    actions = [a for a, (sources, _t) in TRANSITIONS.items() if current in sources]
    if current == ClientStatus.PAUSED:
        actions.remove("activate")  # shown as "resume"
    return actions
