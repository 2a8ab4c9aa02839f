"""A rich agency ("world") shared by the generated sweeps, and what they need around it.

One user per role (staff both assigned and not), clients, channels of several networks, a
policy, a pending invitation, API tokens; a superuser digest of the whole database to prove
a refused request wrote nothing; sign-in without the rate-limited form; and sending that
reports an exception as a 5xx instead of stopping the sweep.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TypeVar

import psycopg
from sqlalchemy import event, select
from sqlalchemy.engine import Engine, make_url

from agency import audit
from agency.db import Base, db, utcnow
from agency.jobs import redis_client
from agency.team.invitations import hash_token
from billing import usage
from billing.stripe_models import StripeInvoiceLink
from tenants.context import tenant_context
from tenants.models import ApiToken, Invitation, Membership, Role, User
from tests import pg
from tests.billing_helpers import billing_objects
from tests.content_helpers import content_objects
from tests.factories import (
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    owner_of,
    token_for,
)
from tests.helpers import csrf_token, session_id_for  # noqa: F401 - csrf_token: re-exported

#: Who acts in the role sweeps. ``staff`` is assigned to the target client, ``staff_other``
#: to another one only.
ROLES = (
    "owner",
    "manager",
    "staff",
    "staff_other",
    "finance",
    "client_manager",
    "client_viewer",
)
ANONYMOUS = "anonymous"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
PARAM_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class World:
    agency: object
    slug: str
    users: dict[str, User]
    tokens: dict[str, str]
    objects: dict[str, uuid.UUID]
    invite_token: str = ""
    reset_email: str = ""  # a member who asked for a password reset: ``reset_token`` is theirs
    reset_token: str = ""
    verify_token: str = ""  # the e-mail verification link of an unverified bystander
    #: A live server-side session per role, made with the world (``sign_in_as``).
    sessions: dict[str, str] = field(default_factory=dict)


def _notification_of(agency, user: User) -> uuid.UUID:  # noqa: ANN001
    from agency.notifications.models import Notification

    with tenant_context(agency.id):
        return db.session.scalars(
            select(Notification.id).where(Notification.user_id == user.id)
        ).first()


def _publishing_rows(agency, client, post_id, channel_id) -> None:  # noqa: ANN001
    """A publish state, an inbound sync cursor and a usage row, for the isolation sweep."""
    from agency.publishing.models import ChannelSync, PublishState
    from billing import usage

    with tenant_context(agency.id):
        db.session.add(
            PublishState(
                target_id=uuid.uuid4(), post_id=post_id, revision=1, idempotency_key="k",
                checkpoints={}, in_flight=False,
            )
        )  # fmt: skip
        db.session.add(ChannelSync(channel_id=channel_id, cursor="1"))
        usage.record(
            db.session, client_id=client.id, target_id=uuid.uuid4(), kind="post",
            occurred_at=utcnow(), post_id=post_id,
        )  # fmt: skip
        db.session.commit()


def build_world(name: str = "Rich Agency") -> World:
    """The sweeps' world (``_build_world``), built once per process for each state of the
    database and Redis it starts from (almost always: empty), then put back from the copy
    taken the first time (``seeded``): the sweeps build some 500 worlds a pass, at about 0.3 s
    each. ``REGIA_TEST_FRESH_WORLDS=1`` builds every one afresh."""
    return seeded(name, lambda: _world_ids(_build_world(name)), thaw=_world_objects)


def seeded(name: str, build: Callable[[], T], *, thaw: Callable[[T], R] = copy.deepcopy) -> R:
    """What ``build()`` seeds, built once per process for each state of the database and Redis
    it starts from, then put back from a copy (``_Template``) with the same rows, ids and
    times. ``build`` returns plain values (ids, tokens, no ORM objects); each caller gets
    ``thaw`` of them (default: a deep copy). ``REGIA_TEST_FRESH_WORLDS=1`` builds afresh."""
    if os.environ.get("REGIA_TEST_FRESH_WORLDS"):
        return thaw(build())
    key = (db.engine.url.render_as_string(hide_password=False), _state_digest(), name)
    template = _TEMPLATES.get(key)
    if template is not None and time.monotonic() - template.taken_at < TEMPLATE_MAX_AGE:
        return thaw(template.restore())
    value = build()
    _TEMPLATES[key] = _Template.take(value)
    return thaw(copy.deepcopy(value))


def _world_ids(world: World) -> World:
    """The world with ids in place of the agency and user objects (what a template keeps)."""
    return replace(
        world,
        agency=world.agency.id,
        users={role: user.id for role, user in world.users.items()},
    )


def _world_objects(ids: World) -> World:
    from tenants.models import Agency

    users = db.session.scalars(select(User).where(User.id.in_(ids.users.values())))
    by_id = {user.id: user for user in users}
    return replace(
        ids,
        agency=db.session.get(Agency, ids.agency),
        users={role: by_id[user_id] for role, user_id in ids.users.items()},
    )


def _build_world(name: str) -> World:
    """One agency with a user per role, three clients, channels of several networks (with
    secrets), an approval policy, a pending invitation and a bystander staff member whose
    membership is the target of member actions."""
    agency = make_agency(name)
    owner = owner_of(agency)
    acme = make_client(agency, f"{name} Acme", legal_name="Acme S.r.l.", country="IT")
    other = make_client(agency, f"{name} Globex")
    make_client(agency, f"{name} Initech")
    users = {
        "owner": owner,
        "manager": make_member(agency, Role.MANAGER),
        "staff": make_member(agency, Role.STAFF, assigned=[acme]),
        "staff_other": make_member(agency, Role.STAFF, assigned=[other]),
        "finance": make_member(agency, Role.FINANCE),
        "client_manager": make_member(agency, Role.CLIENT_MANAGER, client=acme),
        "client_viewer": make_member(agency, Role.CLIENT_VIEWER, client=acme),
    }
    bystander = make_member(agency, Role.STAFF, assigned=[other])
    channels = [
        make_channel(agency, acme, network="mastodon"),
        make_channel(
            agency,
            acme,
            network="bluesky",
            settings={"pds_url": "https://bsky.social", "handle": "acme.bsky.social"},
            secrets={"app_password": "world-app-password"},
        ),
        make_channel(
            agency,
            acme,
            network="webhook",
            settings={"url": "https://hooks.example/regia"},
            secrets={"secret": "whsec_world_signing"},
        ),
        make_channel(agency, other, network="manual"),
    ]
    make_policy(agency, acme, approver_ids=[str(users["client_manager"].id)])
    _mastodon_app(agency)
    _usage_row(agency, acme)
    with tenant_context(agency.id):
        audit.record("client.created", actor_id=owner.id, subject_type="client", client_id=acme.id)
        # A billable publication and an invoice of Acme's on Stripe, for the RLS table sweep.
        usage.record(
            db.session, client_id=acme.id, target_id=uuid.uuid4(), kind="post", occurred_at=utcnow()
        )
        db.session.add(
            StripeInvoiceLink(
                invoice_id=uuid.uuid4(), client_id=acme.id, customer="cus_world", invoice="in_world"
            )
        )
        db.session.commit()
    invite_token = f"invite-{uuid.uuid4().hex}"
    invitation = Invitation(
        agency_id=agency.id,
        email=f"invitee@{agency.slug}.example",
        role=Role.STAFF.value,
        token_hash=hash_token(invite_token),
        invited_by_id=owner.id,
        expires_at=utcnow() + timedelta(days=7),
    )
    db.session.add(invitation)
    db.session.commit()
    tokens = {role: token_for(user, agency) for role, user in users.items()}
    objects = {
        "client": acme.id,
        "other_client": other.id,
        "channel": channels[0].id,
        "membership": membership_id(bystander, agency),
        "invitation": invitation.id,
        "token": db.session.scalar(
            ApiToken.__table__.select()
            .with_only_columns(ApiToken.id)
            .where(ApiToken.prefix == tokens["owner"][:10])
        ),
        "approval_policy": acme.id,
        # A post sent to Acme's client manager, its image, decisions, a comment, review
        # links, and an inbox item (tests/content_helpers.py).
        **content_objects(agency, acme, owner),
        # A rate card, a month of work, a draft invoice and an invoice run (billing).
        **billing_objects(agency, acme),
    }
    # The client manager's "waiting for your approval" notification of that post.
    objects["notification"] = _notification_of(agency, users["client_manager"])
    _publishing_rows(agency, acme, objects["post"], objects["channel"])
    reset_token, verify_token = _recovery_links(agency, bystander)
    sessions = {role: session_id_for(user) for role, user in users.items()}
    return World(
        agency,
        agency.slug,
        users,
        tokens,
        objects,
        invite_token,
        reset_email=bystander.email,
        reset_token=reset_token,
        verify_token=verify_token,
        sessions=sessions,
    )


def _mastodon_app(agency) -> None:  # noqa: ANN001
    """The OAuth app "Connect with Mastodon" registered on an instance (cached per agency)."""
    from agency import crypto
    from agency.channels.models import MastodonApp

    with tenant_context(agency.id):
        db.session.add(
            MastodonApp(
                instance_url="https://mastodon.example",
                redirect_uri=f"http://localhost/a/{agency.slug}/oauth/mastodon/callback",
                client_id="world-mastodon-client",
                client_secret_encrypted=crypto.encrypt_json({"client_secret": "world-app-secret"}),
                scopes="read write",
            )
        )
        db.session.commit()


def _usage_row(agency, client) -> None:  # noqa: ANN001
    """One billable usage row (billing.usage), so the isolation sweep has one to hide."""
    from billing import usage

    with tenant_context(agency.id):
        usage.record(
            db.session,
            client_id=client.id,
            target_id=uuid.uuid4(),
            kind="post",
            occurred_at=utcnow(),
        )
        db.session.commit()


def _recovery_links(agency, bystander: User) -> tuple[str, str]:  # noqa: ANN001
    """A pending password-reset link of ``bystander``, and the verification link of a new,
    unverified account."""
    from agency.accounts.service import _hash, _serializer
    from tenants import service as accounts
    from tenants.models import PasswordReset

    reset_token = f"reset-{uuid.uuid4().hex}"
    db.session.add(
        PasswordReset(
            user_id=bystander.id,
            token_hash=_hash(reset_token),
            expires_at=utcnow() + timedelta(hours=1),
        )
    )
    fresh = accounts.create_user(
        "Fresh Signup", f"unverified@{agency.slug}.example", "correct horse battery", verified=False
    )
    db.session.commit()
    return reset_token, _serializer().dumps({"u": str(fresh.id), "e": fresh.email})


#: A world's times are those of its first build (its password-reset link lasts an hour, its
#: posts are due days ahead): a copy older than this is built afresh, however slow the run.
TEMPLATE_MAX_AGE = 600.0

#: Worlds already built in this process: (database, digest of the state it was built on,
#: name) -> the whole database and Redis just after.
_TEMPLATES: dict[tuple[str, str, str], _Template] = {}


def _state_digest() -> str:
    """What the database (``snapshot``) and Redis hold now, as one digest."""
    redis = redis_client()
    keys = sorted(redis.keys("*"))
    parts = [repr(sorted(snapshot().items()))] + [repr((k, redis.dump(k))) for k in keys]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass
class _Template:
    """A copy of every row and Redis key just after something was seeded, and its value.

    On PostgreSQL the rows are ``COPY ... (FORMAT binary)`` of each table, read and written
    back by the superuser with triggers off (as ``pg.delete_rows`` deletes them); on SQLite,
    each table's raw rows, inserted parents first. Redis keys are DUMPed and RESTOREd with
    their TTLs. Putting a copy back gives the same rows, ids, hashes and timestamps as the
    first build, so the seeded tokens and links still open them.
    """

    tables: dict[str, object]
    redis: list[tuple[bytes, int, bytes]]
    value: object  # plain values only: ids, tokens (no ORM objects)
    taken_at: float = field(default_factory=time.monotonic)

    @classmethod
    def take(cls, value: object) -> _Template:
        db.session.commit()
        tables: dict[str, object] = {}
        if db.engine.dialect.name == "postgresql":
            cursor = admin_connection().cursor()
            for table in Base.metadata.sorted_tables:
                with cursor.copy(f'COPY "{table.name}" TO STDOUT (FORMAT binary)') as copy_:
                    tables[table.name] = b"".join(bytes(block) for block in copy_)
        else:
            with db.engine.connect() as conn:
                for table in Base.metadata.sorted_tables:
                    rows = conn.exec_driver_sql(f'SELECT * FROM "{table.name}"').fetchall()
                    tables[table.name] = [tuple(row) for row in rows]
        redis = redis_client()
        keys = [(key, redis.pttl(key), redis.dump(key)) for key in sorted(redis.keys("*"))]
        return cls(tables, keys, copy.deepcopy(value))

    def restore(self) -> object:
        """Put the rows and keys back; returns a copy of the value."""
        db.session.commit()  # the session's objects (an earlier world's) reload afterwards
        pg.empty_database(db.engine.url.render_as_string(hide_password=False), Base.metadata)
        if db.engine.dialect.name == "postgresql":
            conn = admin_connection()
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                cursor = conn.cursor()
                for name, data in self.tables.items():
                    if len(data) > _EMPTY_BINARY_COPY:
                        with cursor.copy(f'COPY "{name}" FROM STDIN (FORMAT binary)') as copy_:
                            copy_.write(data)
        else:
            with db.engine.begin() as conn:
                for name, rows in self.tables.items():
                    if rows:
                        marks = ", ".join("?" * len(rows[0]))
                        conn.exec_driver_sql(f'INSERT INTO "{name}" VALUES ({marks})', rows)
        redis = redis_client()
        redis.flushdb()
        for key, ttl, dumped in self.redis:
            redis.restore(key, max(ttl, 0), dumped)
        return copy.deepcopy(self.value)


#: The length of a binary COPY of an empty table: the header and the end marker.
_EMPTY_BINARY_COPY = 21


def membership_id(user: User, agency) -> uuid.UUID:  # noqa: ANN001
    return db.session.scalar(
        Membership.__table__.select()
        .with_only_columns(Membership.id)
        .where(Membership.user_id == user.id, Membership.agency_id == agency.id)
    )


def truncate_all() -> None:
    """Empty every table (the runtime role may not: see ``pg.empty_database``)."""
    db.session.remove()
    pg.empty_database(db.engine.url.render_as_string(hide_password=False), Base.metadata)


def reset_world(name: str = "Rich Agency") -> World:
    """A fresh world, as at the start of a test: no rows and no Redis keys (rate-limit
    counters and jobs left by the requests so far would make a new state, and so a new
    build instead of the copy)."""
    truncate_all()
    redis_client().flushdb()
    return build_world(name)


# -- signing in ----------------------------------------------------------------------------


def sign_in(client, user: User) -> None:  # noqa: ANN001
    """Sign in without the login form (its rate limit is under test elsewhere)."""
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(user)
        session["_fresh"] = True


def sign_in_as(client, world: World, role: str) -> None:  # noqa: ANN001
    """Sign ``client`` in as ``role`` on the session made with the world: no row is written
    (the sweeps sign in thousands of clients). After a request that signed it out or revoked
    it, the world must be built again (``reset_world``) before it is used again."""
    with client.session_transaction() as session:
        session["_user_id"] = world.sessions[role]
        session["_fresh"] = True


CSRF_RE = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"')


# -- database digests ----------------------------------------------------------------------

_admin: dict[str, psycopg.Connection] = {}


def close_admin_connections() -> None:
    for conn in _admin.values():
        conn.close()
    _admin.clear()


def admin_connection() -> psycopg.Connection:
    """A superuser connection to the test database (RLS hides nothing), kept per database."""
    database = make_url(db.engine.url).database
    conn = _admin.get(database)
    if conn is None or conn.closed:
        dsn = pg.ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
        conn = _admin[database] = psycopg.connect(dsn, autocommit=True)
    return conn


def snapshot() -> dict[str, str]:
    """A digest of every table's content, read as the superuser, in one statement.

    ``last_used_at`` of API tokens moves on reads (at most once a minute) by design.
    On SQLite (no RLS to see past) the app's own engine reads every row.
    """
    if db.engine.dialect.name != "postgresql":
        return _plain_snapshot()
    parts = []
    for table in Base.metadata.sorted_tables:
        row = (
            "(to_jsonb(t) - 'last_used_at')::text"
            if table.name == "api_tokens"
            else "to_jsonb(t)::text"
        )
        parts.append(
            f"SELECT '{table.name}', count(*) || ':' || md5(coalesce(string_agg({row}, '|'"
            f" ORDER BY {row}), '')) FROM \"{table.name}\" t"
        )
    return dict(admin_connection().execute(" UNION ALL ".join(parts)).fetchall())


def _plain_snapshot() -> dict[str, str]:
    """SQLite: each table's rows as text, made and ordered by SQLite in one statement (no
    ORM rows, no type conversions: the sweeps take thousands of snapshots), hashed here."""
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(_plain_snapshot_sql()).fetchall()
    return {
        name: f"{count}:{hashlib.md5((text or '').encode(), usedforsecurity=False).hexdigest()}"
        for name, count, text in rows
    }


@functools.cache
def _plain_snapshot_sql() -> str:
    parts = []
    for table in Base.metadata.sorted_tables:
        row = " || ',' || ".join(f'quote("{c.name}")' for c in table.c if c.name != "last_used_at")
        parts.append(
            f"SELECT '{table.name}', count(*), group_concat(r, '|')"
            f' FROM (SELECT {row} AS r FROM "{table.name}" ORDER BY r)'
        )
    return " UNION ALL ".join(parts)


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before if before[t] != after.get(t))


#: Statements that only read, when nothing else in them may write: anything else counts as a
#: possible write (DDL, ``CALL``, ``DO``, a CTE), and so does a read naming a writing verb
#: (``FOR UPDATE`` and the like only cost a needless digest).
_READS = ("SELECT", "SHOW", "SAVEPOINT", "RELEASE", "ROLLBACK", "PRAGMA")
_MAY_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|CALL)\b", re.IGNORECASE)
_PENDING = "tests.world.may_write"  # in Connection.info: a possible write not yet committed


class WriteWatch:
    """Counts what may have changed the database, as seen by every SQLAlchemy engine of this
    process (the app's, the services', the jobs' run inline): each statement that may write,
    and each commit of a transaction that sent one (a request may flush and leave the commit
    to a later one). A sweep takes a database digest (``snapshot``) only when the count
    moved during a request: one that sent nothing that may write, and committed no earlier
    write, wrote nothing. ``settled(state)`` takes a digest to prove that nothing was written
    unseen since ``state`` (a write that bypassed SQLAlchemy would show there)."""

    def __init__(self) -> None:
        self.writes = 0

    def _seen(self, conn, cursor, statement: str, *args) -> None:  # noqa: ANN001, ANN002
        if not statement.lstrip().upper().startswith(_READS) or _MAY_WRITE.search(statement):
            self.writes += 1
            conn.info[_PENDING] = True

    def _committed(self, conn) -> None:  # noqa: ANN001
        if conn.info.pop(_PENDING, False):
            self.writes += 1

    @staticmethod
    def _rolled_back(conn) -> None:  # noqa: ANN001
        conn.info.pop(_PENDING, None)

    def __enter__(self) -> WriteWatch:
        event.listen(Engine, "before_cursor_execute", self._seen)
        event.listen(Engine, "commit", self._committed)
        event.listen(Engine, "rollback", self._rolled_back)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._seen)
        event.remove(Engine, "commit", self._committed)
        event.remove(Engine, "rollback", self._rolled_back)

    def state_after(self, state: dict[str, str], since: int) -> dict[str, str]:
        """The database's digest now: ``state`` when nothing since ``since`` (a value of
        ``writes``) may have written, else a fresh ``snapshot``."""
        return state if self.writes == since else snapshot()

    @staticmethod
    def settled(state: dict[str, str]) -> None:
        now = snapshot()
        assert now == state, f"written without a statement seen: {changed_tables(state, now)}"


# -- requests ------------------------------------------------------------------------------


class Raised:
    """A request that raised instead of answering (TESTING propagates exceptions)."""

    def __init__(self, exc: Exception) -> None:
        self.status_code = 599
        self.exc = exc
        self.headers: dict[str, str] = {}

    def get_data(self, as_text: bool = False) -> str:
        return ""


def send(client, method: str, url: str, **kwargs):  # noqa: ANN001, ANN003, ANN201
    try:
        return client.open(url, method=method, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported as a 5xx with the route
        db.session.rollback()
        return Raised(exc)


def describe(response) -> str:  # noqa: ANN001
    if isinstance(response, Raised):
        return f"raised {response.exc!r}"[:400]
    return str(response.status_code)


def route_methods(app, methods: set[str] | None = None) -> Iterator[tuple]:  # noqa: ANN001
    """``(rule, METHOD)`` for every route of ``app``, sorted, HEAD/OPTIONS left out."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            if methods is None or method in methods:
                yield rule, method


# -- filling URLs --------------------------------------------------------------------------

# How to find the world's object for an id parameter: by parameter name, and for a bare
# ``id`` by the path segment before it. Add new kinds here (and to ``build_world``).
ID_KINDS = {
    "client_id": "client",
    "channel_id": "channel",
    "membership_id": "membership",
    "member_id": "membership",
    "invitation_id": "invitation",
    "token_id": "token",
    "policy_id": "approval_policy",
    "post_id": "post",
    "item_id": "inbox_item",
    "invoice_id": "invoice",
    "line_id": "invoice_line",
    "run_id": "invoice_run",
    "notification_id": "notification",
}
SEGMENT_KINDS = {
    "clients": "client",
    "channels": "channel",
    "members": "membership",
    "memberships": "membership",
    "invitations": "invitation",
    "tokens": "token",
}
# Id parameters whose object depends on the route: (end of the rule, name) -> kind. Only a
# manual channel's target is marked published by hand.
ROUTE_KINDS = {
    ("/targets/<uuid:channel_id>/published", "channel_id"): "content_channel",
}
# Non-id parameters, by endpoint: a value that names something real.
OTHER_PARAMS = {
    "static": {"filename": "regia.css"},
    "bootstrap.static": {"filename": "css/bootstrap.min.css"},
    "apidocs.asset": {"filename": "swagger-ui.css"},
    "mail.message": {"name": "missing.eml"},
    "mail.message_html": {"name": "missing.eml"},
}


def kind_for(rule: str, name: str) -> str | None:
    for (ending, param), kind in ROUTE_KINDS.items():
        if name == param and rule.endswith(ending):
            return kind
    if name in ID_KINDS:
        return ID_KINDS[name]
    before = rule.split(f"<{name}>")[0] if f"<{name}>" in rule else rule.split(f":{name}>")[0]
    segment = before.rstrip("/").rsplit("/", 1)[-1]
    segment = re.sub(r"<[^>]*$", "", segment).rstrip("/").rsplit("/", 1)[-1]
    return SEGMENT_KINDS.get(segment)


def is_id_param(converter: str | None, name: str) -> bool:
    return converter == "uuid" or name == "id" or name.endswith("_id")


def fill(rule, slug: str, objects: dict[str, uuid.UUID]) -> tuple[str | None, list[str]]:  # noqa: ANN001
    """The URL of ``rule`` with agency ``slug`` and ``objects``; or None and the problems."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for converter, name in PARAM_RE.findall(rule.rule):
        if name == "agency_slug":
            values[name] = slug
        elif is_id_param(converter, name):
            kind = kind_for(rule.rule, name)
            if kind is None:
                problems.append(
                    f"{rule.rule}: id parameter <{name}> has no object kind; add it to ID_KINDS"
                    " (or SEGMENT_KINDS) in tests/world.py"
                )
            elif kind not in objects:
                problems.append(f"{rule.rule}: no {kind!r} object; build one in build_world")
            else:
                values[name] = str(objects[kind])
        else:
            # A value the world built (e.g. "param:ref", a post's image), else a fixed one.
            fixed = OTHER_PARAMS.get(rule.endpoint, {}).get(name, "x")
            values[name] = str(objects.get(f"param:{name}", fixed))
    if problems:
        return None, problems
    return PARAM_RE.sub(lambda m: values[m.group(2)], rule.rule), []


def world_url(rule, world: World) -> str:  # noqa: ANN001
    """``rule`` filled with the world's slug and objects (the invitation link by its token)."""
    if rule.endpoint == "invitations.accept":
        return f"/invitations/{world.invite_token}"
    if rule.endpoint == "recovery.reset":
        return f"/password/reset/{world.reset_token}"
    if rule.endpoint == "recovery.verify":
        return f"/verify-email/{world.verify_token}"
    url, problems = fill(rule, world.slug, world.objects)
    assert url is not None, "\n".join(problems)
    return url
