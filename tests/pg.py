"""Create the test database and the application role (neither superuser nor BYPASSRLS).

xdist workers call this at the same time: role DDL is serialized by an advisory lock, since
concurrent ``CREATE/ALTER ROLE`` fails with "tuple concurrently updated".
"""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

ADMIN_DSN = os.environ.get("REGIA_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_ROLE = os.environ.get("REGIA_TEST_APP_ROLE", "regia_app")
HOST = os.environ.get("REGIA_TEST_PG_HOST", "127.0.0.1")
PORT = os.environ.get("REGIA_TEST_PG_PORT", "5432")
#: A role that bypasses RLS, to prove the ORM scoping alone (tests/test_route_isolation.py).
BYPASS_ROLE = os.environ.get("REGIA_TEST_BYPASS_ROLE", "regia_bypassrls")
_ROLE_LOCK = 74_201_115  # pg_advisory_lock key for role DDL


def app_url(database: str) -> str:
    return f"postgresql+psycopg://{APP_ROLE}@{HOST}:{PORT}/{database}"


def recreate_database(database: str) -> str:
    """Drop and create ``database`` owned by the app role; returns the app role's URL."""
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ROLE_LOCK,))
        try:
            _ensure_app_role(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ROLE_LOCK,))
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )
    return app_url(database)


def _ensure_app_role(conn: psycopg.Connection) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
    if not exists:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").format(
                sql.Identifier(APP_ROLE)
            )
        )
    else:
        conn.execute(
            sql.SQL("ALTER ROLE {} NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(APP_ROLE))
        )


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
