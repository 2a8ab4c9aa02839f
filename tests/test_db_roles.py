"""Two database roles (DESIGN.md §1): migrations run as the tables' owner, the app as a role
that owns nothing and holds only DML, so even an injected statement cannot switch RLS off."""

from __future__ import annotations

import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg import errors, sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

import agency.models  # noqa: F401 - every mapped class on Base.metadata
from agency.config import Settings
from agency.db import Base, db
from tenants.rls import POLICY
from tests import pg
from tests.conftest import SLOT

pytestmark = pytest.mark.postgresql

GLOBAL_TABLES = {"users", "agencies", "memberships", "invitations", "api_tokens", "stripe_events"}
TENANT_TABLES = sorted(
    t.name
    for t in Base.metadata.sorted_tables
    if "agency_id" in t.c and t.name not in GLOBAL_TABLES
)
# Every way to loosen a table's protection; each needs ownership (or superuser).
DDL = [
    "ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE {t} DISABLE ROW LEVEL SECURITY",
    "DROP POLICY " + POLICY + " ON {t}",
    "CREATE POLICY open_door ON {t} USING (true) WITH CHECK (true)",
    "ALTER POLICY " + POLICY + " ON {t} USING (true)",
    "ALTER TABLE {t} ADD COLUMN smuggled text",
    "ALTER TABLE {t} OWNER TO CURRENT_USER",
    "TRUNCATE {t}",
    "DROP TABLE {t} CASCADE",
]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _as_owner(database_url: str, query: str, *params: object) -> list[tuple]:
    with psycopg.connect(_dsn(pg.migration_url_for(database_url))) as conn:
        return conn.execute(query, params).fetchall()


@pytest.mark.parametrize("statement", DDL)
def test_runtime_role_cannot_loosen_any_tenant_table(database_url, statement):
    assert TENANT_TABLES, "no tenant tables found"
    with psycopg.connect(_dsn(database_url), autocommit=True) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (pg.APP_ROLE,)
        for table in TENANT_TABLES:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement.format(t=table))
    rows = _as_owner(
        database_url,
        "SELECT relname FROM pg_class WHERE relname = ANY(%s) "
        "AND relrowsecurity AND relforcerowsecurity",
        TENANT_TABLES,
    )
    assert sorted(r[0] for r in rows) == TENANT_TABLES
    policies = _as_owner(database_url, "SELECT tablename, policyname FROM pg_policies")
    assert sorted(policies) == sorted((t, POLICY) for t in TENANT_TABLES)


def test_the_apps_own_connection_is_the_runtime_role_and_cannot_disable_rls(app, database_url):
    assert db.session.execute(text("SELECT current_user")).scalar() == pg.APP_ROLE
    with pytest.raises(ProgrammingError, match="must be owner"):
        db.session.execute(text("ALTER TABLE client_companies NO FORCE ROW LEVEL SECURITY"))
    db.session.rollback()


def test_runtime_role_cannot_create_objects(database_url):
    with psycopg.connect(_dsn(database_url), autocommit=True) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.side_door (id int)")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'")


def test_runtime_role_owns_nothing_and_has_only_dml(database_url):
    owners = _as_owner(
        database_url, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
    )
    assert owners == [(pg.OWNER_ROLE,)]
    roles = _as_owner(
        database_url,
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = ANY(%s)",
        [pg.APP_ROLE, pg.OWNER_ROLE],
    )
    assert sorted(roles) == [(pg.APP_ROLE, False, False), (pg.OWNER_ROLE, False, False)]
    tables = [t.name for t in Base.metadata.sorted_tables]
    for table in tables:
        for privilege, expected in [
            ("SELECT", True),
            ("INSERT", True),
            ("UPDATE", True),
            ("DELETE", True),
            ("TRUNCATE", False),
            ("REFERENCES", False),
            ("TRIGGER", False),
        ]:
            (granted,) = _as_owner(
                database_url,
                "SELECT has_table_privilege(%s, %s, %s)",
                pg.APP_ROLE,
                table,
                privilege,
            )[0]
            assert granted is expected, (table, privilege)
    (writable,) = _as_owner(
        database_url,
        "SELECT has_table_privilege(%s, 'alembic_version', 'UPDATE')",
        pg.APP_ROLE,
    )[0]
    assert writable is False


@pytest.fixture
def fresh_database():
    name = f"regia_test_roles_{SLOT}"
    with pg.scratch_database(name):
        yield name


def test_db_upgrade_migrates_as_the_owner_and_grants_the_role_of_database_url(
    make_app, fresh_database, tmp_path
):
    env = {
        "DATABASE_URL": _dsn(pg.app_url(fresh_database)),
        "REGIA_MIGRATION_DATABASE_URL": _dsn(pg.owner_url(fresh_database)),
        "SECRET_KEY": "s",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    settings = Settings.from_env(env=env, instance_path=tmp_path)
    assert settings.app_database_role == pg.APP_ROLE  # the user of DATABASE_URL
    app = make_app(
        database_url=settings.database_url,
        migration_database_url=settings.migration_database_url,
        app_database_role=settings.app_database_role,
    )

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    url = pg.app_url(fresh_database)
    owners = _as_owner(url, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname='public'")
    assert owners == [(pg.OWNER_ROLE,)]
    with psycopg.connect(_dsn(url)) as conn:
        conn.execute("SELECT count(*) FROM users")  # granted
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE channels NO FORCE ROW LEVEL SECURITY")


def test_one_url_means_one_role_and_no_grants(tmp_path):
    sqlite = Settings.from_env(env={}, instance_path=tmp_path)
    assert sqlite.migration_database_url == sqlite.database_url
    assert sqlite.app_database_role is None
    same = Settings.from_env(
        env={"DATABASE_URL": "postgresql://regia@db/regia", "SECRET_KEY": "s"},
        instance_path=tmp_path,
        encryption_keys=("k",),
    )
    assert same.migration_database_url == same.database_url
    assert same.app_database_role is None
    named = Settings.from_env(
        env={
            "DATABASE_URL": "postgresql://regia@db/regia",
            "REGIA_MIGRATION_DATABASE_URL": "postgresql://regia_owner@db/regia",
            "REGIA_APP_DATABASE_ROLE": "regia_web",
            "SECRET_KEY": "s",
        },
        instance_path=tmp_path,
        encryption_keys=("k",),
    )
    assert named.migration_database_url == "postgresql+psycopg://regia_owner@db/regia"
    assert named.app_database_role == "regia_web"


def test_upgrade_refuses_a_runtime_role_that_owns_a_table(fresh_database):
    from agency import migrate

    with psycopg.connect(_dsn(pg.owner_url(fresh_database)), autocommit=True) as owner:
        owner.execute(
            sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(pg.APP_ROLE))
        )
    with psycopg.connect(_dsn(pg.app_url(fresh_database)), autocommit=True) as app_conn:
        app_conn.execute("CREATE TABLE public.stray (id int)")

    with pytest.raises(RuntimeError, match=rf"owns stray; .*REASSIGN OWNED BY {pg.APP_ROLE}"):
        migrate.upgrade(pg.owner_url(fresh_database), app_role=pg.APP_ROLE)
