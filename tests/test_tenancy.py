"""Fail-closed tenancy (DESIGN.md §3): the ORM layer and PostgreSQL RLS, each on its own."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased

from agency.db import Base, db
from tenants.context import TenantError, current_agency_id, tenant_context
from tenants.models import ClientCompany
from tenants.scoping import ALL_TENANTS, TenantScoped
from tests import pg
from tests.factories import make_agency, make_client, owner_of
from tests.helpers import session_id_for

# DESIGN.md §3: looked up before an agency is known; every query on them filters explicitly.
GLOBAL_TABLES = {"users", "agencies", "memberships", "invitations", "api_tokens", "stripe_events"}


@pytest.fixture
def two_agencies(app, database_url):
    agency_a, agency_b = make_agency("Agency A"), make_agency("Agency B")
    client_a = make_client(agency_a, "Client of A")
    client_b = make_client(agency_b, "Client of B")
    # A fresh session: nothing of B may be served from the identity map.
    db.session.remove()
    return agency_a, agency_b, client_a, client_b


def _superuser_rows(sql: str) -> list[tuple]:
    """Read as the PostgreSQL superuser, which RLS does not bind: the ground truth."""
    with pg.ground_truth(db.engine) as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def _all_client_names() -> set[str]:
    return {name for (name,) in _superuser_rows("SELECT name FROM client_companies")}


def _raw_client_names() -> list[str]:
    return sorted(db.session.execute(text("SELECT name FROM client_companies")).scalars())


# --- layer 1: the ORM -------------------------------------------------------------------


def test_orm_select_with_no_agency_returns_no_tenant_rows(two_agencies):
    assert db.session.scalars(select(ClientCompany)).all() == []
    assert db.session.scalar(select(func.count()).select_from(ClientCompany)) == 0


def test_orm_insert_with_no_agency_raises(two_agencies):
    db.session.add(ClientCompany(name="Orphan"))
    with pytest.raises(TenantError):
        db.session.flush()
    db.session.rollback()


def test_orm_insert_for_another_agency_raises(two_agencies):
    agency_a, agency_b, _, _ = two_agencies
    with tenant_context(agency_a.id):
        db.session.add(ClientCompany(name="Smuggled", agency_id=agency_b.id))
        with pytest.raises(TenantError):
            db.session.flush()
        db.session.rollback()
    with tenant_context(agency_b.id):
        assert db.session.scalars(select(ClientCompany.name)).all() == ["Client of B"]


def test_orm_update_moving_a_row_to_another_agency_raises(two_agencies):
    # Dirty rows are checked like new ones (hand-planted: checking only session.new passed).
    agency_a, agency_b, client_a, _ = two_agencies
    with tenant_context(agency_a.id):
        client = db.session.get(ClientCompany, client_a.id)
        client.agency_id = agency_b.id
        with pytest.raises(TenantError, match="^ClientCompany belongs to another agency$"):
            db.session.flush()
        db.session.rollback()
    with tenant_context(agency_a.id):
        assert db.session.scalars(select(ClientCompany.name)).all() == ["Client of A"]
    with tenant_context(agency_b.id):
        assert db.session.scalars(select(ClientCompany.name)).all() == ["Client of B"]


def test_orm_insert_is_stamped_with_the_current_agency(two_agencies):
    agency_a, _, _, _ = two_agencies
    with tenant_context(agency_a.id):
        client = ClientCompany(name="Stamped")
        db.session.add(client)
        db.session.flush()
        assert client.agency_id == agency_a.id
        db.session.rollback()


def test_other_agency_rows_are_invisible_through_the_orm(two_agencies):
    agency_a, _, client_a, client_b = two_agencies
    with tenant_context(agency_a.id):
        assert db.session.scalars(select(ClientCompany)).all() == [
            db.session.get(ClientCompany, client_a.id)
        ]
        assert db.session.get(ClientCompany, client_b.id) is None
        assert (
            db.session.scalar(select(ClientCompany).where(ClientCompany.id == client_b.id)) is None
        )


def test_orm_update_and_delete_do_not_touch_other_agency(two_agencies):
    agency_a, _, client_a, client_b = two_agencies
    with tenant_context(agency_a.id):
        result = db.session.execute(
            update(ClientCompany).where(ClientCompany.id == client_b.id).values(name="Hacked")
        )
        assert result.rowcount == 0
        result = db.session.execute(delete(ClientCompany).where(ClientCompany.id == client_b.id))
        assert result.rowcount == 0
        result = db.session.execute(update(ClientCompany).values(legal_name="Everyone"))
        assert result.rowcount == 1  # only A's own client
        db.session.commit()
    names = _all_client_names()
    assert names == {"Client of A", "Client of B"}
    legal = _superuser_rows("SELECT name, legal_name FROM client_companies")
    assert dict(legal) == {"Client of A": "Everyone", "Client of B": None}


@pytest.mark.postgresql
def test_orm_scoping_holds_even_when_rls_would_let_rows_through(two_agencies):
    agency_a, agency_b, _, _ = two_agencies
    with tenant_context(agency_a.id):
        db.session.scalars(select(ClientCompany)).all()  # transaction begun as A
        # Point the database setting at B behind the ORM's back: only layer 1 is left.
        db.session.execute(
            text("SELECT set_config('app.agency_id', :v, true)"), {"v": str(agency_b.id)}
        )
        assert _raw_client_names() == ["Client of B"]  # RLS now admits B's row ...
        assert db.session.scalars(select(ClientCompany)).all() == []  # ... the ORM does not
    db.session.rollback()


@pytest.mark.postgresql
def test_orm_scoping_of_updates_deletes_and_aliases_holds_when_rls_would_not(two_agencies):
    # The listeners are decorated, so mutmut never mutates them; planted by hand, dropping
    # updates or deletes from the scoping, or include_aliases with no agency, passed every
    # PostgreSQL test because RLS caught what the ORM let through.
    agency_a, agency_b, _, client_b = two_agencies
    behind_the_orm = text("SELECT set_config('app.agency_id', :v, true)")
    with tenant_context(agency_a.id):
        db.session.scalars(select(ClientCompany)).all()  # transaction begun as A
        db.session.execute(behind_the_orm, {"v": str(agency_b.id)})
        assert _raw_client_names() == ["Client of B"]  # RLS now admits B's row ...
        changed = db.session.execute(update(ClientCompany).values(legal_name="Hacked"))
        removed = db.session.execute(delete(ClientCompany).where(ClientCompany.id == client_b.id))
        assert (changed.rowcount, removed.rowcount) == (0, 0)  # ... the ORM does not
    db.session.rollback()
    db.session.scalars(select(ClientCompany)).all()  # transaction begun with no agency
    db.session.execute(behind_the_orm, {"v": str(agency_b.id)})
    assert _raw_client_names() == ["Client of B"]
    assert db.session.scalars(select(aliased(ClientCompany))).all() == []
    db.session.rollback()
    assert _all_client_names() == {"Client of A", "Client of B"}
    assert _superuser_rows("SELECT legal_name FROM client_companies") == [(None,), (None,)]


# --- layer 2: PostgreSQL row-level security -----------------------------------------------


@pytest.mark.postgresql
def test_raw_sql_sees_only_the_current_agency(two_agencies):
    agency_a, agency_b, _, _ = two_agencies
    with tenant_context(agency_a.id):
        assert _raw_client_names() == ["Client of A"]
    db.session.commit()
    with tenant_context(agency_b.id):
        assert _raw_client_names() == ["Client of B"]


@pytest.mark.postgresql
def test_raw_sql_with_no_agency_sees_nothing(two_agencies):
    assert _raw_client_names() == []
    count = db.session.execute(text("SELECT count(*) FROM client_companies")).scalar()
    assert count == 0


@pytest.mark.postgresql
def test_raw_sql_switches_with_the_context_inside_one_transaction(two_agencies):
    agency_a, agency_b, _, _ = two_agencies
    with tenant_context(agency_a.id):
        assert _raw_client_names() == ["Client of A"]
        with tenant_context(agency_b.id):
            assert _raw_client_names() == ["Client of B"]
        assert _raw_client_names() == ["Client of A"]
    assert _raw_client_names() == []


@pytest.mark.postgresql
def test_raw_insert_of_another_agency_row_fails_with_check(two_agencies):
    agency_a, agency_b, _, _ = two_agencies
    with tenant_context(agency_a.id):
        with pytest.raises(DBAPIError, match="row-level security"):
            db.session.execute(
                text(
                    "INSERT INTO client_companies (id, agency_id, name, status, currency,"
                    " timezone, language, created_at) VALUES (gen_random_uuid(), :agency,"
                    " 'Smuggled', 'active', 'EUR', 'UTC', 'en', now())"
                ),
                {"agency": agency_b.id},
            )
        db.session.rollback()
    with tenant_context(agency_b.id):
        assert _raw_client_names() == ["Client of B"]


@pytest.mark.postgresql
def test_raw_update_cannot_reach_another_agency(two_agencies):
    agency_a, _, _, client_b = two_agencies
    with tenant_context(agency_a.id):
        result = db.session.execute(
            text("UPDATE client_companies SET name = 'Hacked' WHERE id = :id"), {"id": client_b.id}
        )
        assert result.rowcount == 0
        db.session.commit()
    assert "Client of B" in _all_client_names()


# --- every table is covered ----------------------------------------------------------------


@pytest.mark.postgresql
def test_every_table_with_agency_id_is_scoped_and_has_forced_rls(app, database_url):
    problems = []
    checked = set()
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if table is None or "agency_id" not in table.c or table.name in GLOBAL_TABLES:
            continue
        checked.add(table.name)
        if not issubclass(mapper.class_, TenantScoped):
            problems.append(f"{mapper.class_.__name__} has agency_id but is not TenantScoped")
        row = db.session.execute(
            text(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class"
                " WHERE relname = :t AND relkind = 'r'"
            ),
            {"t": table.name},
        ).one_or_none()
        if row is None or not (row.relrowsecurity and row.relforcerowsecurity):
            problems.append(f"{table.name}: row-level security is not enabled and forced")
        policies = db.session.execute(
            text("SELECT qual, with_check FROM pg_policies WHERE tablename = :t"),
            {"t": table.name},
        ).all()
        if not policies:
            problems.append(f"{table.name}: no RLS policy")
        for qual, with_check in policies:
            if "app.agency_id" not in (qual or "") or "app.agency_id" not in (with_check or ""):
                problems.append(f"{table.name}: policy does not check app.agency_id both ways")
    assert {"client_companies", "staff_assignments"} <= checked
    assert not problems, "\n".join(problems)


def test_every_tenant_scoped_class_has_an_agency_id_column(app):
    for mapper in Base.registry.mappers:
        if issubclass(mapper.class_, TenantScoped):
            assert "agency_id" in mapper.local_table.c, mapper.class_.__name__
            assert mapper.local_table.name not in GLOBAL_TABLES, mapper.class_.__name__


@pytest.mark.postgresql
def test_app_role_is_neither_superuser_nor_bypassrls(app, database_url):
    row = db.session.execute(
        text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    assert row.rolname != "postgres"
    assert row.rolsuper is False
    assert row.rolbypassrls is False


@pytest.mark.postgresql
def test_all_tenants_escape_hatch_skips_only_the_orm_layer(two_agencies, make_app, database_url):
    agency_a, _, _, _ = two_agencies

    def names(**options: object) -> list[str]:
        with tenant_context(agency_a.id):
            found = db.session.scalars(
                select(ClientCompany.name).order_by(ClientCompany.name), execution_options=options
            ).all()
        db.session.rollback()
        return found

    assert names(**{ALL_TENANTS: True}) == ["Client of A"]  # RLS still binds the app role
    # As a role RLS does not bind, the option is what separates one agency from both.
    bypass = make_app(database_url=pg.bypass_url(make_url(database_url).database))
    db.session.remove()
    with bypass.app_context():
        assert names() == ["Client of A"]
        assert names(**{ALL_TENANTS: True}) == ["Client of A", "Client of B"]
        db.session.remove()


def test_insert_works_when_the_transaction_began_under_no_agency(two_agencies):
    agency_a, _, _, _ = two_agencies
    db.session.execute(text("SELECT 1"))  # transaction begun with no agency
    with tenant_context(agency_a.id):
        db.session.add(ClientCompany(name="Late Context"))
        db.session.commit()
    assert "Late Context" in _all_client_names()


@pytest.mark.postgresql
def test_flush_under_another_agency_keeps_rls_in_step(two_agencies):
    agency_a, agency_b, _, _ = two_agencies
    with tenant_context(agency_a.id):
        db.session.scalars(select(ClientCompany)).all()  # transaction begun as A
        with tenant_context(agency_b.id):
            db.session.add(ClientCompany(name="B via nested context"))
            db.session.flush()
        db.session.commit()
    with tenant_context(agency_b.id):
        assert "B via nested context" in _raw_client_names()


def test_session_get_hides_another_agencys_row_already_in_the_identity_map(app, database_url):
    from tests.factories import make_agency as _make_agency
    from tests.factories import make_client as _make_client

    a, b = _make_agency(), _make_agency()
    client_b = _make_client(b, "B's client")
    with tenant_context(b.id):
        assert db.session.get(ClientCompany, client_b.id) is client_b  # now in the identity map
    with tenant_context(a.id):
        assert db.session.get(ClientCompany, client_b.id) is None
    with tenant_context(None):
        assert db.session.get(ClientCompany, client_b.id) is None


def test_session_get_with_all_tenants_still_returns_a_row_from_the_identity_map(app, database_url):
    """The escape hatch works for identity-map hits too (the same option, one name)."""
    from tests.factories import make_agency as _make_agency
    from tests.factories import make_client as _make_client

    a, b = _make_agency(), _make_agency()
    client_b = _make_client(b, "B's client")
    with tenant_context(b.id):
        assert db.session.get(ClientCompany, client_b.id) is client_b
    with tenant_context(a.id):
        options = {ALL_TENANTS: True}
        assert db.session.get(ClientCompany, client_b.id, execution_options=options) is client_b
        assert db.session.get(ClientCompany, client_b.id) is None


def test_orm_exists_subqueries_are_scoped(app, database_url):
    """``select(...).exists()`` is ORM-enabled and scoped; on SQLite (no RLS) this is all
    that keeps one agency from learning another's client names."""
    from sqlalchemy import func

    from tests.factories import make_agency as _make_agency
    from tests.factories import make_client as _make_client

    a, b = _make_agency(), _make_agency()
    _make_client(b, "Acme")
    named = select(ClientCompany.id).where(func.lower(ClientCompany.name) == "acme")
    with tenant_context(a.id):
        assert db.session.scalar(select(named.exists())) is False
    with tenant_context(b.id):
        assert db.session.scalar(select(named.exists())) is True


def test_domain_code_uses_no_core_exists():
    """A Core ``exists()`` (not ORM-enabled) escapes ``with_loader_criteria``: the ORM layer
    would not scope it. Domain code writes ``select(Model.id).where(...).exists()``."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("agency", "tenants", "billing")
        for path in sorted((root / package).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"(?<![.\w])exists\(\)", line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, f"Core exists() escapes tenant scoping: {offenders}"


def test_a_request_resets_the_current_agency_it_set_when_it_ends(app, database_url):
    """An agency page sets the current agency for its request only: the teardown resets it,
    so nothing run after it on this thread (the next request, a job) inherits the agency."""
    agency = make_agency("Agency A")
    web = app.test_client()
    with web.session_transaction() as session:
        session["_user_id"] = session_id_for(owner_of(agency))
        session["_fresh"] = True
    assert current_agency_id() is None
    assert web.get(f"/a/{agency.slug}/clients/").status_code == 200
    assert current_agency_id() is None
    assert web.get("/account").status_code == 200  # no agency: nothing to reset
    assert current_agency_id() is None


def test_a_teardown_run_in_another_context_leaves_the_agency_alone_without_raising(app):
    """A response finished in another execution context (a streamed body, an async server)
    cannot reset the agency its request set there: the teardown must let that be, not fail."""
    import contextvars
    import uuid

    from flask import g

    from tenants import web
    from tenants.context import reset_current_agency, set_current_agency

    agency_id = uuid.uuid4()
    with app.test_request_context("/"):
        token = g.tenant_token = set_current_agency(agency_id)
        contextvars.copy_context().run(web._reset_tenant, None)
        assert current_agency_id() == agency_id  # this context's value, untouched
        assert "tenant_token" not in g
        reset_current_agency(token)  # (put the test's context back)
    assert current_agency_id() is None


def test_links_on_an_agency_page_carry_its_slug_only_where_a_route_takes_one(app, database_url):
    """On an agency's pages ``url_for`` fills in the agency's slug for its routes; links to
    routes outside the agency (account, sign-out, static files) must not grow a
    ``?agency_slug=`` query that leaks the agency into every other URL."""
    agency = make_agency("Agency A")
    web = app.test_client()
    with web.session_transaction() as session:
        session["_user_id"] = session_id_for(owner_of(agency))
        session["_fresh"] = True
    html = web.get(f"/a/{agency.slug}/clients/").get_data(as_text=True)
    assert 'href="/account"' in html or "href='/account'" in html, "the account link is shown"
    assert "agency_slug=" not in html
    assert f'href="/a/{agency.slug}/' in html
