"""Fail-closed tenant scoping, layer 1 of 2 (the ORM); PostgreSQL RLS is layer 2.

Every SELECT/UPDATE/DELETE issued through the ORM gets ``agency_id == current`` on every
``TenantScoped`` entity (SQLAlchemy's "global WHERE criteria" recipe). With no agency in
context nothing matches. Inserts are stamped with the current agency; a missing or
different agency raises. The one escape hatch is the execution option named by
``ALL_TENANTS`` -- grep for it.

The same listener keeps PostgreSQL's transaction-local ``app.agency_id`` in step with the
ContextVar, so raw SQL on the session is bound by the RLS policies too.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import ForeignKey, event, false, text
from sqlalchemy.orm import (
    LoaderCriteriaOption,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from tenants.context import TenantError, current_agency_id

#: ``session.execute(stmt, execution_options={ALL_TENANTS: True})`` skips ORM scoping.
#: Only for code that must see every tenant (migrations checks, operator CLI). Grep for it.
ALL_TENANTS = "regia_all_tenants"

#: Execution option of a statement that sets ``app.agency_id`` itself (tenants.identity):
#: bringing the setting in step first would be a wasted round trip.
SETS_RLS = "regia_sets_rls"

_RLS_KEY = "regia_rls_agency"
_UNSET = object()


class TenantScoped:
    """Mixin for every tenant-owned row: carries ``agency_id`` and is scoped automatically."""

    @declared_attr
    def agency_id(cls) -> Mapped[uuid.UUID]:  # noqa: N805
        return mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"), index=True)

    def _regia_visible_in_context(self, execution_options: dict) -> bool:
        """Used by ``Session.get`` for identity-map hits, which bypass ``do_orm_execute``."""
        if execution_options.get(ALL_TENANTS):
            return True
        return self.agency_id is not None and self.agency_id == current_agency_id()


def _sync_rls_setting(session: Session) -> None:
    """Make ``app.agency_id`` on the session's connection equal the ContextVar."""
    connection = session.connection()  # begins the transaction (and after_begin) if needed
    if connection.dialect.name != "postgresql":
        return
    wanted = current_agency_id()
    if session.info.get(_RLS_KEY, _UNSET) != wanted:
        _set_rls(connection, wanted)
        session.info[_RLS_KEY] = wanted


def _set_rls(connection, agency_id: uuid.UUID | None) -> None:  # noqa: ANN001
    connection.execute(
        text("SELECT set_config('app.agency_id', :v, true)"),
        {"v": str(agency_id) if agency_id else ""},
    )


def rls_set_by_statement(session: Session, agency_id: uuid.UUID | None) -> None:
    """Record that a statement of this transaction set ``app.agency_id`` itself.

    ``tenants.identity`` sets it inside the identity query (one round trip, not two); the
    next ORM statement then brings it back in step with the ContextVar if they differ.
    """
    session.info[_RLS_KEY] = agency_id


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, transaction, connection) -> None:  # noqa: ANN001
    # set_config(..., true) is transaction-local: every new transaction starts unset (the
    # code never sets it session-wide), so with no agency in context there is nothing to send.
    session.info.pop(_RLS_KEY, None)
    if connection.dialect.name == "postgresql":
        wanted = current_agency_id()
        if wanted is not None:
            _set_rls(connection, wanted)
        session.info[_RLS_KEY] = wanted


@event.listens_for(Session, "do_orm_execute")
def _scope_to_current_agency(state: ORMExecuteState) -> None:
    if not state.execution_options.get(SETS_RLS):
        _sync_rls_setting(state.session)
    if state.execution_options.get(ALL_TENANTS):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load:
        return
    state.statement = state.statement.options(_criteria(current_agency_id()))


@functools.lru_cache(maxsize=1024)
def _criteria(agency_id: uuid.UUID | None) -> LoaderCriteriaOption:
    """The scoping option for one agency (with none: nothing matches), built once per agency:
    building it cost more than the rest of a statement's trip through the ORM."""
    if agency_id is None:
        return with_loader_criteria(TenantScoped, lambda cls: false(), include_aliases=True)
    return with_loader_criteria(
        TenantScoped, lambda cls: cls.agency_id == agency_id, include_aliases=True
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, flush_context, instances) -> None:  # noqa: ANN001
    agency_id = current_agency_id()
    tenant_rows = False
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        tenant_rows = True
        if agency_id is None:
            raise TenantError(f"cannot write {type(obj).__name__} with no agency in context")
        if obj.agency_id is None:
            obj.agency_id = agency_id
        elif obj.agency_id != agency_id:
            raise TenantError(f"{type(obj).__name__} belongs to another agency")
    if tenant_rows or any(isinstance(obj, TenantScoped) for obj in session.deleted):
        # The transaction may have begun under another (or no) agency: flushes do not pass
        # through do_orm_execute, so bring the RLS setting in step here.
        _sync_rls_setting(session)
