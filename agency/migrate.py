"""Alembic driven from the app's settings (``flask --app wsgi db upgrade``).

On PostgreSQL migrations run as the owner of the tables (``REGIA_MIGRATION_DATABASE_URL``)
and, at the end of every run, grant the runtime role (``REGIA_APP_DATABASE_ROLE``, or the
user of ``DATABASE_URL``) DML on every table and nothing else: the app's role owns nothing,
so even an injected statement cannot switch row-level security off or alter a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from agency.config import PROJECT_ROOT

if TYPE_CHECKING:  # Alembic is imported when a migration runs: 0.2 s less at every start-up
    from alembic.config import Config

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
APP_ROLE_ATTRIBUTE = "regia_app_role"
DML = "SELECT, INSERT, UPDATE, DELETE"


def alembic_config(database_url: str, app_role: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes[APP_ROLE_ATTRIBUTE] = app_role
    return config


def upgrade(database_url: str, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate as the role of ``database_url``; then grant ``app_role`` DML (PostgreSQL)."""
    from alembic import command

    command.upgrade(alembic_config(database_url, app_role), revision)


def downgrade(database_url: str, revision: str, *, app_role: str | None = None) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url, app_role), revision)


def grant_runtime_role(connection: Connection, role: str) -> None:
    """Give ``role`` DML on every table and use of every sequence of ``public``; no more.

    Also sets default privileges, so tables the migration role creates later (by hand, or a
    migration run without a runtime role) are granted too. ``alembic_version`` stays
    read-only to the app. A runtime role equal to the migration role is left alone.
    """
    if connection.dialect.name != "postgresql":
        return
    current = connection.exec_driver_sql("SELECT current_user").scalar()
    if role == current:
        return
    owned = connection.exec_driver_sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = %(role)s",
        {"role": role},
    ).scalars()
    owned = sorted(owned)
    if owned:
        # Owning a table would let the runtime role switch its row-level security off.
        raise RuntimeError(
            f"the runtime role {role!r} owns {', '.join(owned)}; as a superuser run "
            f"REASSIGN OWNED BY {role} TO {current}; in this database, then migrate again"
        )
    quote = connection.dialect.identifier_preparer.quote
    grantee = quote(role)
    tables = connection.exec_driver_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    ).scalars()
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {grantee}")
    for table in tables:
        privileges = "SELECT" if table == "alembic_version" else DML
        connection.exec_driver_sql(f"GRANT {privileges} ON public.{quote(table)} TO {grantee}")
    connection.exec_driver_sql(
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantee}"
    )
    connection.exec_driver_sql(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {DML} ON TABLES TO {grantee}"
    )
    connection.exec_driver_sql(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {grantee}"
    )
