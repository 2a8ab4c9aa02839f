"""Composite tenant keys (DESIGN.md §3): every foreign key between tenant tables and every
unique constraint or index on one includes ``agency_id``, so a row can never point at
another agency's row, and the Citus scale path stays one migration away."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    insert,
    inspect,
    pool,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable

import agency.models  # noqa: F401 - every mapped class on Base.metadata
from agency.db import Base
from tenants.models import client_fk, partial_unique_index
from tests import pg
from tests.factories import make_agency, make_channel, make_client, make_member, make_policy
from tests.test_db_roles import GLOBAL_TABLES

TENANT_TABLES = {t.name for t in Base.metadata.sorted_tables if "agency_id" in t.c} - GLOBAL_TABLES


def _problems(tables: dict[str, dict]) -> tuple[list[str], int, int]:
    """Offending keys of ``{table: {"fks": [(cols, referred, ref_cols)], "uniques": [..]}}``."""
    problems, fks_seen, uniques_seen = [], 0, 0
    for name in sorted(TENANT_TABLES):
        for cols, referred, referred_cols in tables[name]["fks"]:
            if referred not in TENANT_TABLES:
                continue
            fks_seen += 1
            pairs = dict(zip(cols, referred_cols, strict=True))
            if pairs.get("agency_id") != "agency_id":
                problems.append(f"{name} {list(cols)} -> {referred} {list(referred_cols)}")
        for cols in tables[name]["uniques"]:
            uniques_seen += 1
            if "agency_id" not in cols:
                problems.append(f"{name} unique {list(cols)}")
    return problems, fks_seen, uniques_seen


def test_every_tenant_key_in_the_models_includes_agency_id():
    tables = {}
    for name in TENANT_TABLES:
        table = Base.metadata.tables[name]
        uniques = [
            [c.name for c in con.columns]
            for con in table.constraints
            if isinstance(con, UniqueConstraint)
        ] + [[c.name for c in ix.columns] for ix in table.indexes if ix.unique]
        fks = [
            (
                [e.parent.name for e in fk.elements],
                fk.referred_table.name,
                [e.column.name for e in fk.elements],
            )
            for fk in table.foreign_key_constraints
        ]
        tables[name] = {"fks": fks, "uniques": uniques}

    problems, fks_seen, uniques_seen = _problems(tables)

    assert problems == [], "tenant keys without agency_id:\n" + "\n".join(problems)
    assert fks_seen >= 3 and uniques_seen >= 4, (fks_seen, uniques_seen)


@pytest.mark.postgresql  # SQLite's reflection leaves out expression indexes (lower(name))
def test_every_tenant_key_in_the_migrated_database_includes_agency_id(database_url):
    engine = create_engine(pg.migration_url_for(database_url), poolclass=pool.NullPool)
    try:
        inspector = inspect(engine)
        tables = {
            name: {
                "fks": [
                    (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                    for fk in inspector.get_foreign_keys(name)
                ],
                "uniques": [u["column_names"] for u in inspector.get_unique_constraints(name)]
                + [ix["column_names"] for ix in inspector.get_indexes(name) if ix["unique"]],
            }
            for name in TENANT_TABLES
        }
    finally:
        engine.dispose()

    problems, fks_seen, uniques_seen = _problems(tables)

    assert problems == [], "tenant keys without agency_id:\n" + "\n".join(problems)
    assert fks_seen >= 3 and uniques_seen >= 4, (fks_seen, uniques_seen)


def test_schema_check_catches_a_plain_client_foreign_key():
    tables = {name: {"fks": [], "uniques": [["agency_id", "id"]]} for name in TENANT_TABLES}
    tables["channels"]["fks"] = [(["client_id"], "client_companies", ["id"])]
    tables["channels"]["uniques"] = [["client_id", "name"]]

    problems, _, _ = _problems(tables)

    assert problems == [
        "channels ['client_id'] -> client_companies ['id']",
        "channels unique ['client_id', 'name']",
    ]


@pytest.mark.postgresql
@pytest.mark.parametrize("table", ["channels", "approval_policies", "staff_assignments"])
def test_raw_sql_cannot_point_a_row_at_another_agencys_client(app, database_url, table):
    from tenants.models import Role

    agency_a, agency_b = make_agency(), make_agency()
    mine, theirs = make_client(agency_a), make_client(agency_b)
    make_channel(agency_a, mine)
    make_policy(agency_a, mine)
    make_member(agency_a, Role.STAFF, assigned=[mine])
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)

    # As the app's role with RLS satisfied for agency A: only the foreign key stands in the way.
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT set_config('app.agency_id', %s, true)", (str(agency_a.id),))
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(f"UPDATE {table} SET client_id = %s", (theirs.id,))
        conn.rollback()
        conn.execute("SELECT set_config('app.agency_id', %s, true)", (str(agency_a.id),))
        cur = conn.execute(f"SELECT * FROM {table}")
        row = dict(zip([c.name for c in cur.description], cur.fetchone(), strict=True))
        row.update(id=uuid.uuid4(), client_id=theirs.id)  # a copy pointing at B's client
        row = {k: Jsonb(v) if isinstance(v, dict | list) else v for k, v in row.items()}
        columns = ", ".join(row)
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(row))})",
                list(row.values()),
            )
        conn.rollback()
        conn.execute("SELECT set_config('app.agency_id', %s, true)", (str(agency_a.id),))
        rows = conn.execute(f"SELECT client_id FROM {table}").fetchall()
    assert rows == [(mine.id,)]


def _builders_table() -> Table:
    """A throw-away table declared with ``client_fk`` and ``partial_unique_index`` at test
    time (the models' own tables were declared while the module was imported)."""
    metadata = MetaData()
    Table(
        "client_companies",
        metadata,
        Column("agency_id", Integer, primary_key=True),
        Column("id", Integer, primary_key=True),
    )
    return Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("agency_id", Integer, nullable=False),
        Column("client_id", Integer, nullable=False),
        Column("email", String(320), nullable=False),
        Column("archived_at", Integer),
        client_fk("notes"),
        partial_unique_index(
            "uq_notes_live_email", "agency_id", "email", where="archived_at IS NULL"
        ),
    )


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["pg", "sqlite"])
def test_the_key_builders_write_the_composite_foreign_key_and_the_partial_index(dialect):
    table = _builders_table()
    ddl = str(CreateTable(table).compile(dialect=dialect))
    assert (
        "CONSTRAINT fk_notes_client_id_client_companies FOREIGN KEY(agency_id, client_id)"
        " REFERENCES client_companies (agency_id, id) ON DELETE CASCADE"
    ) in ddl
    (index,) = table.indexes
    assert str(CreateIndex(index).compile(dialect=dialect)) == (
        "CREATE UNIQUE INDEX uq_notes_live_email ON notes (agency_id, email)"
        " WHERE archived_at IS NULL"
    )


def test_the_key_builders_refuse_a_foreign_client_and_a_second_live_row():
    table = _builders_table()
    engine = create_engine("sqlite://", poolclass=pool.StaticPool)
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys = ON"))
    table.metadata.create_all(engine)
    clients = table.metadata.tables["client_companies"]
    with engine.begin() as conn:
        conn.execute(insert(clients), [{"agency_id": 1, "id": 10}, {"agency_id": 2, "id": 20}])
        conn.execute(insert(table).values(id=1, agency_id=1, client_id=10, email="a@x.com"))
        conn.execute(
            insert(table).values(id=2, agency_id=1, client_id=10, email="a@x.com", archived_at=1)
        )
        conn.execute(insert(table).values(id=3, agency_id=2, client_id=20, email="a@x.com"))
    for row in (
        {"id": 4, "agency_id": 1, "client_id": 20, "email": "b@x.com"},  # agency 2's client
        {"id": 5, "agency_id": 1, "client_id": 10, "email": "a@x.com"},  # a second live row
    ):
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(table).values(**row))
    with engine.begin() as conn:
        conn.execute(delete(clients).where(clients.c.id == 10))
        assert conn.execute(select(table.c.id)).scalars().all() == [3]
    engine.dispose()
