"""Create the test database and the application role (neither superuser nor BYPASSRLS)."""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

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
