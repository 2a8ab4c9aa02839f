"""Create the test database and the application role (neither superuser nor BYPASSRLS).

Also the helpers that work on either test backend (PostgreSQL or the embedded SQLite file):
``empty_database`` and ``ground_truth``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy import MetaData, create_engine, pool, text
from sqlalchemy.engine import Connection, Engine, make_url

ADMIN_DSN = os.environ.get("REGIA_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_ROLE = os.environ.get("REGIA_TEST_APP_ROLE", "regia_app")
HOST = os.environ.get("REGIA_TEST_PG_HOST", "127.0.0.1")
PORT = os.environ.get("REGIA_TEST_PG_PORT", "5432")


def app_url(database: str) -> str:
    return f"postgresql+psycopg://{APP_ROLE}@{HOST}:{PORT}/{database}"


def recreate_database(database: str) -> str:
    """Drop and create ``database`` owned by the app role; returns the app role's URL."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
                ).format(sql.Identifier(APP_ROLE))
            )
        else:
            conn.execute(
                sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(APP_ROLE))
            )
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )
    return app_url(database)


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


def empty_database(engine: Engine, metadata: MetaData) -> None:
    """Delete every row of ``metadata``'s tables (TRUNCATE where the database has it)."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":  # children first, foreign keys stay on
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        else:
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))
