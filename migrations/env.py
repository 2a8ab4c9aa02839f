"""Alembic environment: the URL comes from the app settings (``REGIA_MIGRATION_DATABASE_URL``,
else ``DATABASE_URL``); after migrating, the runtime role is granted DML (agency/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import agency.models  # noqa: F401 - registers every mapped class on Base.metadata
from agency.config import Settings
from agency.db import Base, UTCDateTime
from agency.migrate import APP_ROLE_ATTRIBUTE, grant_runtime_role

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings.from_env().migration_database_url


def _app_role() -> str | None:
    if APP_ROLE_ATTRIBUTE in config.attributes:
        return config.attributes[APP_ROLE_ATTRIBUTE]
    return Settings.from_env().app_database_role


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)


def _render_item(type_: str, obj: object, _autogen_context: object) -> str | bool:
    # Migrations spell the column type as plain SQL: timestamptz (UTCDateTime's impl).
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
        role = _app_role()
        if role:
            grant_runtime_role(connection, role)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
