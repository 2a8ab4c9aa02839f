"""The test database and its two roles, as in production (DESIGN.md §1).

``regia_owner`` owns the database and runs the migrations; ``regia_app`` owns nothing and
gets only the DML the migrations grant it; the app under test connects as ``regia_app``.
Neither role is superuser nor BYPASSRLS.

Also the helpers that work on either test backend (PostgreSQL or the embedded SQLite file):
``empty_database`` and ``ground_truth``.

xdist workers call this at the same time: role DDL is serialized by an advisory lock, since
concurrent ``CREATE/ALTER ROLE`` fails with "tuple concurrently updated".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import MetaData, create_engine, pool
from sqlalchemy.engine import Connection, Engine, make_url

ADMIN_DSN = os.environ.get("REGIA_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_ROLE = os.environ.get("REGIA_TEST_APP_ROLE", "regia_app")
OWNER_ROLE = os.environ.get("REGIA_TEST_OWNER_ROLE", "regia_owner")
HOST = os.environ.get("REGIA_TEST_PG_HOST", "127.0.0.1")
PORT = os.environ.get("REGIA_TEST_PG_PORT", "5432")
#: A role that bypasses RLS, to prove the ORM scoping alone (tests/test_route_isolation.py).
BYPASS_ROLE = os.environ.get("REGIA_TEST_BYPASS_ROLE", "regia_bypassrls")
_ROLE_LOCK = 74_201_115  # pg_advisory_lock key for role DDL
_TEMPLATE_LOCK = 74_201_116  # and for building and copying the migrated template


def app_url(database: str) -> str:
    """The runtime role's URL (``DATABASE_URL``)."""
    return f"postgresql+psycopg://{APP_ROLE}@{HOST}:{PORT}/{database}"


def owner_url(database: str) -> str:
    """The migration role's URL (``REGIA_MIGRATION_DATABASE_URL``)."""
    return f"postgresql+psycopg://{OWNER_ROLE}@{HOST}:{PORT}/{database}"


def migration_url_for(database_url: str) -> str:
    """The owner's URL of the database ``database_url`` names (other backends: itself)."""
    if not database_url.startswith("postgresql"):
        return database_url
    return owner_url(make_url(database_url).database)


def _ensure_role(conn: psycopg.Connection, role: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").format(
            sql.SQL(verb), sql.Identifier(role)
        )
    )


#: What a migrated database is made of: a template is rebuilt when any of these changes.
_MIGRATION_INPUTS = ("migrations", "agency/migrate.py", "tenants/rls.py", "agency/db.py")
_ROOT = Path(__file__).resolve().parents[1]
_TEMPLATE_PREFIX = "regia_template_"


def _migrations_digest() -> str:
    digest = hashlib.sha256(f"{APP_ROLE} {OWNER_ROLE}".encode())
    for name in _MIGRATION_INPUTS:
        path = _ROOT / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in (".py", ".mako"):
                digest.update(str(file.relative_to(_ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def migrated_database(database: str, upgrade: Callable[[str], None]) -> str:
    """``database`` recreated (as ``recreate_database(durable=False)``) as a copy of a
    template database that ``upgrade(owner_url)`` migrated once, for this state of the
    migrations (``_migrations_digest``); returns the runtime role's URL.

    The xdist workers each need a migrated database at the same moment; migrating costs
    seconds of CPU a database, copying a template a fraction of one. The first worker
    builds the template under an advisory lock while the others wait; templates of other
    states of the migrations are dropped then. ``tests/test_migrations.py`` still migrates
    fresh databases, up and down, step by step.
    """
    template = _TEMPLATE_PREFIX + _migrations_digest()
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_TEMPLATE_LOCK,))
        try:
            names = [row[0] for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (_TEMPLATE_PREFIX + "%",)
            )]  # fmt: skip
            if template not in names:
                for stale in names:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(stale)
                        )
                    )
                building = template + "_new"
                upgrade(recreate_database(building, durable=False))
                _disconnect(conn, building)
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(template)
                    )
                )
            recreate_database(database, durable=False, template=template)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_TEMPLATE_LOCK,))
    return app_url(database)


def _disconnect(conn: psycopg.Connection, database: str) -> None:
    """End every session on ``database`` (a pooled connection of the migration's engine)."""
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (database,),
    )


def recreate_database(database: str, *, durable: bool = True, template: str | None = None) -> str:
    """Drop and create ``database`` owned by the owner role; returns the owner's URL.

    Migrate with ``migrate.upgrade(url, app_role=APP_ROLE)``, then connect with ``app_url``.
    ``durable=False`` (the test databases): commits do not wait for the WAL to reach the
    disk (``synchronous_commit = off``). Only a crash of the server could lose them; what
    other sessions see, locks and isolation are unchanged. The benchmarks keep durable
    commits, as production has.
    """
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ROLE_LOCK,))
        try:
            _ensure_role(conn, APP_ROLE)
            _ensure_role(conn, OWNER_ROLE)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ROLE_LOCK,))
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        create = sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(database), sql.Identifier(OWNER_ROLE)
        )
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(create)
        if not durable:
            conn.execute(
                sql.SQL("ALTER DATABASE {} SET synchronous_commit = off").format(
                    sql.Identifier(database)
                )
            )
        # Only the owner may create objects: the runtime role must never own anything.
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )
    return owner_url(database)


_OWNER_ENGINES: dict[str, Engine] = {}


@contextmanager
def scratch_database(database: str) -> Iterator[str]:
    """A fresh, empty ``database`` for one test (the owner's URL), dropped afterwards."""
    url = recreate_database(database)
    try:
        yield url
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


def _owner_engine(url: str) -> Engine:
    if url not in _OWNER_ENGINES:
        if url.startswith("sqlite"):
            _OWNER_ENGINES[url] = create_engine(url, poolclass=pool.NullPool)
        else:
            # Pre-ping: a database recreated by a later pytest run in this process (mutmut
            # runs pytest many times in one process) has closed the pooled connection.
            _OWNER_ENGINES[url] = create_engine(url, pool_size=1, pool_pre_ping=True)
    return _OWNER_ENGINES[url]


def _forget_inherited_connections() -> None:
    # mutmut runs each mutant's tests in a fork of a process that already ran the suite: a
    # child must not share the parent's pooled connection (see agency.db.Database).
    for engine in _OWNER_ENGINES.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def delete_rows(database_url: str, tables: list[str]) -> None:
    """Delete every row of ``tables``, as the superuser with triggers off.

    Not ``TRUNCATE``: it gives each table and index a new file, which cost 0.2-1 s for the
    schema's 30-odd tables after every test (most of the PostgreSQL pass's wall time), while
    deleting a test's few rows takes milliseconds. ``session_replication_role = replica``
    (superuser only: the runtime role may not, and must not) keeps ordinary triggers from
    firing for this transaction: the audit log's trigger that refuses DELETE, and the foreign
    keys' checks, so the order of the tables does not matter.
    """
    statements = "; ".join(f'DELETE FROM "{t}"' for t in tables)
    with _owner_engine(_superuser_url(database_url)).begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(statements)


def _superuser_url(database_url: str) -> str:
    admin = make_url(ADMIN_DSN).set(drivername="postgresql+psycopg")
    return admin.set(database=make_url(database_url).database).render_as_string(hide_password=False)


@contextmanager
def ground_truth(engine: Engine) -> Iterator[Connection]:
    """A connection to ``engine``'s database that sees every row, whatever the tenant.

    On PostgreSQL the superuser, which RLS does not bind; on SQLite (no RLS) the file itself.
    Plain Core statements on it never pass through the ORM's tenant scoping.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite":
        admin = make_url(ADMIN_DSN).set(drivername="postgresql+psycopg")
        url = admin.set(database=url.database)
    truth = create_engine(url, poolclass=pool.NullPool)
    try:
        with truth.connect() as conn:
            yield conn
    finally:
        truth.dispose()


def empty_database(database_url: str, metadata: MetaData) -> None:
    """Delete every row of ``metadata``'s tables: as the superuser with triggers off on
    PostgreSQL (``delete_rows``), children-first deletes on SQLite (foreign keys stay on)."""
    if not database_url.startswith("sqlite"):
        delete_rows(database_url, [t.name for t in metadata.sorted_tables])
        return
    with _owner_engine(database_url).begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def bypass_url(database: str) -> str:
    """A URL for ``database`` as a role with BYPASSRLS and the app role's grants (tests only)."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ROLE_LOCK,))
        try:
            exists = conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (BYPASS_ROLE,)
            ).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER BYPASSRLS INHERIT").format(
                        sql.Identifier(BYPASS_ROLE)
                    )
                )
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(APP_ROLE), sql.Identifier(BYPASS_ROLE)
                    )
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ROLE_LOCK,))
    return f"postgresql+psycopg://{BYPASS_ROLE}@{HOST}:{PORT}/{database}"


def as_agency(conn: Connection, agency_id) -> None:  # noqa: ANN001
    """On PostgreSQL, open ``agency_id``'s rows to RLS for ``conn``'s transaction (what the app's
    identity statement sets); on SQLite nothing (no RLS)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT set_config('app.agency_id', :a, true)"), {"a": str(agency_id)})
