"""Engine, session and declarative base: the lowest layer, imported by everything else."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

from flask import current_app, has_app_context
from sqlalchemy import DateTime, MetaData, TypeDecorator, UniqueConstraint, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)

CONNECT_TIMEOUT = 5  # seconds
#: A pooled connection idle this long is pinged before use (a database restart or an idle
#: timeout may have closed it); one returned moments ago is not: a ping is a round trip,
#: and pinging every checkout cost one of the five round trips of an API request.
PING_AFTER_IDLE_SECONDS = 10.0
_CHECKED_IN = "regia_checked_in"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class NaiveDatetimeError(ValueError):
    """A naive datetime reached the database: its time zone is unknown, so it is refused."""


class UTCDateTime(TypeDecorator[datetime]):
    """The one datetime column type: timezone-aware UTC in, timezone-aware UTC out.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones and hands back naive values,
    and a naive/aware comparison is a 500 that PostgreSQL never shows; so values are stored as
    naive UTC there and read back as aware UTC. Naive values are refused, never guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                f"naive datetime {value.isoformat()} given to a UTC column: pass an aware value"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: stored as naive UTC by process_bind_param
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class UUIDPrimaryKey:
    """Every exposed id is a UUID (DESIGN.md §3)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class _AppBoundSession(Session):
    """Binds to the engine of the app in context, so apps with other databases never mix."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kw):  # noqa: ANN001, ANN201
        if bind is None and self.bind is None:
            return db.engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kw)

    def get(self, entity, ident, **kw):  # noqa: ANN001, ANN003, ANN201
        # An identity-map hit skips do_orm_execute (and so tenant scoping): ask the row.
        obj = super().get(entity, ident, **kw)
        visible = getattr(obj, "_regia_visible_in_context", None)
        if visible is not None and not visible(kw.get("execution_options") or {}):
            return None
        return obj


def _note_checkin(dbapi_connection, record) -> None:  # noqa: ANN001
    record.info[_CHECKED_IN] = time.monotonic()


def _idle_pinger(dialect: Dialect):  # noqa: ANN202 - a pool "checkout" listener
    def ping_if_idle(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
        """``pool_pre_ping`` for connections idle ``PING_AFTER_IDLE_SECONDS`` or more."""
        returned = record.info.get(_CHECKED_IN)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool replaces the connection and tries again
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the database did not answer the ping")

    return ping_if_idle


class Database:
    """Engines per database URL and a thread-local session bound to the current app's engine.

    Each app keeps its own engine (``app.extensions``), so building a second app with other
    settings (tests, operator scripts) never rebinds the first. Outside an app context the
    first engine configured is used.
    """

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}
        self._default: Engine | None = None
        self.session = scoped_session(sessionmaker(class_=_AppBoundSession, expire_on_commit=False))
        os.register_at_fork(after_in_child=self._forget_inherited_connections)

    def _forget_inherited_connections(self) -> None:
        """In a forked child (an RQ work horse, a mutmut run), never use the parent's pooled
        connections: both processes would talk on one socket, and the server's state of it
        (prepared statements, open transaction) would be whatever the other left."""
        for engine in self._engines.values():
            engine.dispose(close=False)  # new pool; the parent's connections stay the parent's

    @property
    def engine(self) -> Engine | None:
        if has_app_context():
            engine = current_app.extensions.get("regia_db_engine")
            if engine is not None:
                return engine
        return self._default

    def configure(self, url: str, **engine_options: object) -> Engine:
        """The engine for ``url`` (created once per URL and reused) made the default."""
        engine = self._engine_for(url, **engine_options)
        self.session.remove()
        self._default = engine
        return engine

    def _engine_for(self, url: str, **engine_options: object) -> Engine:
        if url in self._engines:
            return self._engines[url]
        if url.startswith("sqlite"):
            engine_options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        else:
            # A database that does not answer must fail fast (readiness probe, requests).
            engine_options.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT})
        engine = create_engine(url, **engine_options)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        elif not engine_options.get("pool_pre_ping"):
            event.listen(engine, "checkin", _note_checkin)
            event.listen(engine, "checkout", _idle_pinger(engine.dialect))
        self._engines[url] = engine
        return engine

    def init_app(self, app) -> None:  # noqa: ANN001 - flask.Flask
        engine = self._engine_for(app.config["REGIA"].database_url)
        app.extensions["regia_db_engine"] = engine
        if self._default is None:
            self._default = engine
        app.teardown_appcontext(self._teardown)

    def _teardown(self, exc: BaseException | None) -> None:
        if exc is not None:
            self.session.rollback()
        self.session.remove()

    @property
    def is_postgresql(self) -> bool:
        return self.engine is not None and self.engine.dialect.name == "postgresql"


def violates_unique(exc: IntegrityError, constraint: str) -> bool:
    """Whether ``exc`` is a violation of the unique constraint or index named ``constraint``.

    PostgreSQL names the constraint; SQLite names only its columns (or, for an index on
    expressions, the index), so those are matched against the constraint in the models.
    """
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name == constraint
    message = str(orig)
    prefix = "UNIQUE constraint failed: "
    if not message.startswith(prefix):
        return False
    failed = message[len(prefix) :].strip()
    if failed == f"index '{constraint}'":
        return True
    for table in Base.metadata.tables.values():
        for unique in (*table.constraints, *table.indexes):
            if unique.name != constraint or not (
                isinstance(unique, UniqueConstraint) or getattr(unique, "unique", False)
            ):
                continue
            if failed == ", ".join(f"{table.name}.{col.name}" for col in unique.columns):
                return True
    return False


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # SQLite's advice for WAL: no fsync per commit, still never corrupt on a crash.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


db = Database()
