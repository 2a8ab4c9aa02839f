"""Migration 0005 on existing data: webhook URLs move into the encrypted credentials, duplicate
channel names are renamed so the per-client unique index can be built; and back again.
Runs on SQLite and on PostgreSQL (where the FORCEd row-level security binds the migration)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from agency import crypto, migrate
from tests import pg
from tests.conftest import SLOT

BEFORE = "0002_onboarding"
HOOK = "https://hooks.example.com/services/T1/B2/legacyPLAINurl"
T = sa.table  # lightweight Core tables: the schema as of 0002, nothing from the models
AGENCIES = T(
    "agencies",
    *(sa.column(c) for c in ("name", "slug", "default_locale", "timezone", "default_currency")),
    sa.column("id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
CLIENTS = T(
    "client_companies",
    *(sa.column(c) for c in ("name", "status", "currency", "timezone", "language")),
    sa.column("id", sa.Uuid()),
    sa.column("agency_id", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
CHANNELS = T(
    "channels",
    *(sa.column(c) for c in ("network", "name", "status", "credentials_encrypted")),
    sa.column("id", sa.Uuid()),
    sa.column("agency_id", sa.Uuid()),
    sa.column("client_id", sa.Uuid()),
    sa.column("settings", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    with pg.scratch_database(f"regia_test_chmig_{SLOT}") as url:
        yield url


def _seed(engine: sa.Engine) -> dict[str, uuid.UUID]:
    now = datetime.now(UTC)
    ids: dict[str, uuid.UUID] = {}
    for agency_name in ("a", "b"):
        agency_id = ids[agency_name] = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                AGENCIES.insert().values(
                    id=agency_id, name=agency_name, slug=f"ag-{agency_name}", default_locale="en",
                    timezone="UTC", default_currency="EUR", created_at=now,
                )
            )  # fmt: skip
            pg.as_agency(conn, agency_id)
            for client_name in ("one", "two"):
                client_id = ids[f"{agency_name}-{client_name}"] = uuid.uuid4()
                conn.execute(
                    CLIENTS.insert().values(
                        id=client_id, agency_id=agency_id, name=client_name, status="active",
                        currency="EUR", timezone="UTC", language="en", created_at=now,
                    )
                )  # fmt: skip

    def channel(key: str, client: str, name: str, network: str = "manual", **values) -> None:
        agency_id = ids[client[0]]
        ids[key] = uuid.uuid4()
        values.setdefault("settings", {})
        with engine.begin() as conn:
            pg.as_agency(conn, agency_id)
            conn.execute(
                CHANNELS.insert().values(
                    id=ids[key], agency_id=agency_id, client_id=ids[client], network=network,
                    name=name, status="connected", created_at=now + timedelta(seconds=len(ids)),
                    **values,
                )
            )  # fmt: skip

    channel("blog1", "a-one", "Blog")
    channel("blog2", "a-one", "Blog")
    channel("blog3", "a-one", "blog")
    channel("blog-other-client", "a-two", "BLOG")
    channel(
        "hook-a", "a-one", "Hook", "webhook",
        settings={"url": HOOK}, credentials_encrypted=crypto.encrypt_json({"secret": "sa"}),
    )  # fmt: skip
    channel(
        "hook-b", "b-one", "Hook", "webhook",
        settings={"url": HOOK + "B"}, credentials_encrypted=crypto.encrypt_json({"secret": "sb"}),
    )  # fmt: skip
    return ids


def _channels(engine: sa.Engine, ids: dict[str, uuid.UUID]) -> dict[uuid.UUID, sa.Row]:
    rows = {}
    for agency in ("a", "b"):
        with engine.begin() as conn:
            pg.as_agency(conn, ids[agency])
            for row in conn.execute(sa.select(CHANNELS)):
                rows[row.id] = row
    return rows


def test_upgrade_encrypts_webhook_urls_and_renames_duplicate_names(app, old_database):
    migrate.upgrade(old_database, BEFORE)
    engine = sa.create_engine(old_database, poolclass=sa.pool.NullPool)
    try:
        ids = _seed(engine)
        migrate.upgrade(old_database)  # in the app's context: its ENCRYPTION_KEYS are used
        rows = _channels(engine, ids)
        assert len(rows) == 6  # every agency's rows were visible to the migration
        assert [rows[ids[k]].name for k in ("blog1", "blog2", "blog3")] == [
            "Blog",
            "Blog (2)",
            "blog (3)",
        ]
        assert rows[ids["blog-other-client"]].name == "BLOG"  # another client: no clash
        for key, url, secret in (("hook-a", HOOK, "sa"), ("hook-b", HOOK + "B", "sb")):
            row = rows[ids[key]]
            assert "url" not in row.settings and "legacy" not in json.dumps(row.settings)
            assert crypto.decrypt_json(row.credentials_encrypted) == {"url": url, "secret": secret}
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            pg.as_agency(conn, ids["a"])
            conn.execute(
                CHANNELS.insert().values(
                    id=uuid.uuid4(), agency_id=ids["a"], client_id=ids["a-one"], name="HOOK",
                    network="manual", status="connected", settings={},
                    created_at=datetime.now(UTC),
                )
            )  # fmt: skip

        migrate.downgrade(old_database, BEFORE)
        rows = _channels(engine, ids)
        back = rows[ids["hook-a"]]
        assert back.settings == {"url": HOOK}
        assert crypto.decrypt_json(back.credentials_encrypted) == {"secret": "sa"}
    finally:
        engine.dispose()
