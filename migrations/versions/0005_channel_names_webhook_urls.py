"""Channels: names unique per client (ignoring case); webhook URLs move into the encrypted
credentials (they are secrets, like Slack/Discord hook URLs).

Existing duplicate names get a " (2)", " (3)"… suffix so the index can be built.

Revision ID: 0005_channel_names_webhook_urls
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from alembic import op

revision = "0005_channel_names_webhook_urls"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME_INDEX = "uq_channels_client_name"
CHANNELS = sa.table(
    "channels",
    sa.column("id", sa.Uuid()),
    sa.column("agency_id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("network", sa.String()),
    sa.column("name", sa.String()),
    sa.column("settings", sa.JSON()),
    sa.column("credentials_encrypted", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _fernet():  # noqa: ANN202 - cryptography.fernet.MultiFernet
    """The app's ENCRYPTION_KEYS (the running app's when there is one, else the environment's)."""
    from cryptography.fernet import Fernet, MultiFernet
    from flask import current_app, has_app_context

    if has_app_context() and "REGIA" in current_app.config:
        keys = current_app.config["REGIA"].encryption_keys
    else:
        from agency.config import Settings

        keys = Settings.from_env().encryption_keys
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _agencies(bind: sa.Connection) -> Iterator[None]:
    """Step through the agencies with the RLS setting on (the FORCEd policies bind us too)."""
    postgres = bind.dialect.name == "postgresql"
    for (agency_id,) in bind.execute(sa.text("SELECT id FROM agencies")).all():
        if postgres:
            bind.execute(
                sa.text("SELECT set_config('app.agency_id', :a, true)"), {"a": str(agency_id)}
            )
        yield
    if postgres:
        bind.execute(sa.text("SELECT set_config('app.agency_id', '', true)"))


def _rows(bind: sa.Connection, *where: sa.ColumnElement[bool]) -> list[sa.Row]:
    query = sa.select(CHANNELS).where(*where).order_by(CHANNELS.c.created_at, CHANNELS.c.id)
    return list(bind.execute(query))


def _dedupe_names(bind: sa.Connection) -> None:
    taken: dict[object, set[str]] = {}
    renames: list[tuple[object, str]] = []
    rows = _rows(bind)
    for row in rows:
        taken.setdefault(row.client_id, set()).add(row.name.casefold())
    seen: dict[object, set[str]] = {}
    for row in rows:
        names = seen.setdefault(row.client_id, set())
        if row.name.casefold() not in names:
            names.add(row.name.casefold())
            continue
        n = 2
        while (candidate := f"{row.name[:190]} ({n})").casefold() in taken[row.client_id]:
            n += 1
        taken[row.client_id].add(candidate.casefold())
        names.add(candidate.casefold())
        renames.append((row.id, candidate))
    for channel_id, name in renames:
        bind.execute(CHANNELS.update().where(CHANNELS.c.id == channel_id).values(name=name))


def _move_webhook_urls(bind: sa.Connection, move: Callable[[dict, dict], bool]) -> None:
    """Apply ``move(settings, secrets)`` to each webhook channel; rewrite the rows it changed."""
    fernet = None
    for row in _rows(bind, CHANNELS.c.network == "webhook"):
        settings = dict(row.settings or {})
        fernet = fernet or _fernet()
        token = row.credentials_encrypted
        secrets = json.loads(fernet.decrypt(token.encode())) if token else {}
        if not move(settings, secrets):
            continue
        encrypted = fernet.encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()
        bind.execute(
            CHANNELS.update()
            .where(CHANNELS.c.id == row.id)
            .values(settings=settings, credentials_encrypted=encrypted if secrets else None)
        )


def _into_secrets(settings: dict, secrets: dict) -> bool:
    if "url" not in settings:
        return False
    secrets["url"] = settings.pop("url")
    return True


def _into_settings(settings: dict, secrets: dict) -> bool:
    if "url" not in secrets:
        return False
    settings["url"] = secrets.pop("url")
    return True


def upgrade() -> None:
    bind = op.get_bind()
    for _ in _agencies(bind):
        _dedupe_names(bind)
        _move_webhook_urls(bind, _into_secrets)
    op.create_index(
        NAME_INDEX, "channels", ["agency_id", "client_id", sa.text("lower(name)")], unique=True
    )


def downgrade() -> None:
    op.drop_index(NAME_INDEX, table_name="channels")
    bind = op.get_bind()
    for _ in _agencies(bind):
        _move_webhook_urls(bind, _into_settings)
