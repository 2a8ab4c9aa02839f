"""Alembic is the only source of schema truth: one head, reversible, matching the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, pool, text

import agency.models  # noqa: F401 - every mapped class on Base.metadata
from agency import migrate
from agency.db import Base
from tenants.scoping import TenantScoped
from tests import pg
from tests.conftest import EMBEDDED, _worker_index


@pytest.fixture
def fresh_database_url(tmp_path):
    if EMBEDDED:  # the demo's database: a SQLite file
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    with pg.scratch_database(f"regia_test_migr_{_worker_index()}") as url:
        yield url


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_have_a_single_head():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, script.get_heads()


def test_upgrade_downgrade_upgrade_round_trips(fresh_database_url):
    model_tables = {t.name for t in Base.metadata.sorted_tables}
    migrate.upgrade(fresh_database_url)
    assert _tables(fresh_database_url) == model_tables
    migrate.downgrade(fresh_database_url, "base")
    assert _tables(fresh_database_url) == set()
    migrate.upgrade(fresh_database_url)
    assert _tables(fresh_database_url) == model_tables


def test_every_step_downgrades_one_revision_at_a_time(fresh_database_url):
    script = ScriptDirectory.from_config(migrate.alembic_config(fresh_database_url))
    revisions = list(script.walk_revisions())  # head first
    migrate.upgrade(fresh_database_url)
    for _ in revisions:
        migrate.downgrade(fresh_database_url, "-1")
    assert _tables(fresh_database_url) == set()


def test_migrated_schema_matches_the_models(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    engine = create_engine(fresh_database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff = compare_metadata(context, Base.metadata)
            policies = None
            if conn.dialect.name == "postgresql":
                policies = set(
                    conn.execute(
                        text(
                            "SELECT c.relname FROM pg_class c JOIN pg_policies p"
                            " ON p.tablename = c.relname"
                            " WHERE c.relrowsecurity AND c.relforcerowsecurity"
                        )
                    ).scalars()
                )
    finally:
        engine.dispose()
    assert diff == [], "models and migrations disagree; add a migration:\n" + "\n".join(
        map(str, diff)
    )
    if policies is None:  # SQLite: no row-level security to check
        return
    tenant_tables = {
        m.local_table.name for m in Base.registry.mappers if issubclass(m.class_, TenantScoped)
    }
    assert tenant_tables >= {"client_companies", "channels"}
    assert policies == tenant_tables, "every tenant table, and only those, has forced RLS"


def _predicate(sql_text: str | None) -> str | None:
    """An index's WHERE clause, spelled alike whichever database printed it."""
    if not sql_text or " where " not in sql_text.lower():
        return None
    where = sql_text[sql_text.lower().rindex(" where ") + 7 :]
    return "".join(ch for ch in where.lower() if ch not in "() \n\t") or None


def test_partial_unique_indexes_have_the_models_predicates(fresh_database_url):
    # compare_metadata does not look at an index's WHERE clause: a model whose partial index
    # lost its predicate (or became unconditional) would pass the test above.
    migrate.upgrade(fresh_database_url)
    engine = create_engine(fresh_database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            dialect = conn.dialect.name
            query = (
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                if dialect == "postgresql"
                else "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
            )
            migrated = {name: _predicate(ddl) for name, ddl in conn.execute(text(query))}
    finally:
        engine.dispose()
    declared = {}
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            where = index.dialect_options[dialect]["where"]
            declared[index.name] = _predicate(f" WHERE {where}" if where is not None else None)
    partial = {name: where for name, where in declared.items() if where}
    assert {"uq_memberships_agency_team"} <= set(partial), partial
    assert declared == {name: migrated.get(name) for name in declared}


@pytest.mark.postgresql
def test_foreign_keys_have_the_models_names(fresh_database_url):
    # compare_metadata matches foreign keys by their columns only; a later migration that
    # drops or alters one by the model's name must find it under that name.
    migrate.upgrade(fresh_database_url)
    engine = create_engine(fresh_database_url, poolclass=pool.NullPool)
    try:
        inspector = inspect(engine)
        migrated = {
            (table, fk["name"])
            for table in inspector.get_table_names()
            for fk in inspector.get_foreign_keys(table)
        }
    finally:
        engine.dispose()
    declared = {
        (table.name, str(fk.name))
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_key_constraints
    }
    assert ("channels", "fk_channels_client_id_client_companies") in declared
    assert declared == migrated
