"""Lists cost a constant number of SQL statements, whatever the data size (DESIGN.md §10).

Each test counts the statements of one request with few rows, adds many more rows, and
counts again. (The members page has its own test in tests/test_members.py.)
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from agency.db import db, utcnow
from tenants.models import Invitation, Membership, Role
from tests.factories import (
    make_agency,
    make_channel,
    make_client,
    make_member,
    owner_of,
    token_for,
)
from tests.helpers import bearer, session_id_for

FEW, MANY = 2, 20


@contextmanager
def count_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _constant(request: Callable[[], object], grow: Callable[[int], None]) -> None:
    """``request`` costs the same number of statements with FEW and with MANY rows."""
    grow(FEW)
    request()  # warm-up: first-request caches (locale, nav) are not what is measured
    with count_statements() as few:
        response = request()
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert few, "the statement counter saw nothing"
    grow(MANY - FEW)
    with count_statements() as many:
        response = request()
    assert response.status_code == 200
    assert len(many) == len(few), (
        f"{len(few)} statements for {FEW} rows but {len(many)} for {MANY}:\n" + "\n".join(many)
    )


@pytest.fixture
def setup(app, client, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(owner)
        session["_fresh"] = True
    return agency, owner, token_for(owner, agency)


def _clients(agency, *, staff=None):  # noqa: ANN001, ANN202
    made: list = []

    def grow(n: int) -> None:
        for _ in range(n):
            c = make_client(agency, f"Client {uuid.uuid4().hex[:8]}", country="DE")
            make_channel(agency, c)
            made.append(c)
            if staff is not None:
                from tenants.models import Membership
                from tenants.service import assign_staff

                membership = db.session.scalar(
                    Membership.__table__.select()
                    .with_only_columns(Membership.id)
                    .where(Membership.user_id == staff.id)
                )
                assign_staff(db.session.get(Membership, membership), c.id)
                db.session.commit()

    return grow, made


def test_clients_page_costs_the_same_for_2_or_20_clients(client, setup):
    agency, _owner, _token = setup
    grow, _ = _clients(agency)
    _constant(lambda: client.get(f"/a/{agency.slug}/clients/"), grow)


def test_clients_api_costs_the_same_for_2_or_20_clients(client, setup):
    agency, _owner, token = setup
    grow, _ = _clients(agency)
    _constant(lambda: client.get("/api/v1/clients?limit=100", headers=bearer(token)), grow)


def test_dashboard_costs_the_same_for_2_or_20_clients(client, setup):
    agency, _owner, _token = setup
    grow, _ = _clients(agency)
    _constant(lambda: client.get(f"/a/{agency.slug}/"), grow)


def test_staff_dashboard_costs_the_same_for_2_or_20_assigned_clients(app, client, setup):
    agency, _owner, _token = setup
    staff = make_member(agency, Role.STAFF)
    web = app.test_client()
    with web.session_transaction() as session:
        session["_user_id"] = session_id_for(staff)
        session["_fresh"] = True
    grow, _ = _clients(agency, staff=staff)
    _constant(lambda: web.get(f"/a/{agency.slug}/"), grow)


def _channels(agency, client_company):  # noqa: ANN001, ANN202
    networks = ["mastodon", "manual", "webhook"]

    def grow(n: int) -> None:
        for i in range(n):
            network = networks[i % len(networks)]
            if network == "webhook":
                make_channel(
                    agency,
                    client_company,
                    network="webhook",
                    settings={"url": "https://hooks.example/x"},
                    secrets={"secret": "s"},
                )
            else:
                make_channel(agency, client_company, network=network)

    return grow


def test_channels_page_costs_the_same_for_2_or_20_channels(client, setup):
    agency, _owner, _token = setup
    acme = make_client(agency, "Acme")
    url = f"/a/{agency.slug}/clients/{acme.id}/channels/"
    _constant(lambda: client.get(url), _channels(agency, acme))


def test_channels_api_costs_the_same_for_2_or_20_channels(client, setup):
    agency, _owner, token = setup
    acme = make_client(agency, "Acme")
    url = f"/api/v1/clients/{acme.id}/channels"
    _constant(lambda: client.get(url, headers=bearer(token)), _channels(agency, acme))


def test_client_page_costs_the_same_for_2_or_20_channels(client, setup):
    agency, _owner, _token = setup
    acme = make_client(agency, "Acme")
    url = f"/a/{agency.slug}/clients/{acme.id}"
    _constant(lambda: client.get(url), _channels(agency, acme))


def _invitations(agency, owner, clients):  # noqa: ANN001, ANN202
    def grow(n: int) -> None:
        for i in range(n):
            client_role = i % 2 == 0
            db.session.add(
                Invitation(
                    agency_id=agency.id,
                    email=f"invitee-{uuid.uuid4().hex[:8]}@example.com",
                    role=(Role.CLIENT_MANAGER if client_role else Role.STAFF).value,
                    client_id=clients[i % len(clients)].id if client_role else None,
                    assigned_client_ids=[] if client_role else [str(c.id) for c in clients],
                    token_hash=uuid.uuid4().hex,
                    invited_by_id=owner.id,
                    expires_at=utcnow() + timedelta(days=7),
                )
            )
        db.session.commit()

    return grow


def test_invitations_api_costs_the_same_for_2_or_20_invitations(client, setup):
    agency, owner, token = setup
    clients = [make_client(agency, f"C{i}") for i in range(3)]
    grow = _invitations(agency, owner, clients)
    _constant(lambda: client.get("/api/v1/invitations", headers=bearer(token)), grow)


def test_members_page_costs_the_same_for_2_or_20_pending_invitations(client, setup):
    agency, owner, _token = setup
    clients = [make_client(agency, f"C{i}") for i in range(3)]
    grow = _invitations(agency, owner, clients)
    _constant(lambda: client.get(f"/a/{agency.slug}/members"), grow)


def test_members_api_costs_the_same_for_2_or_20_members(client, setup):
    agency, _owner, token = setup
    clients = [make_client(agency, f"C{i}") for i in range(3)]

    def grow(n: int) -> None:
        for i in range(n):
            if i % 2:
                make_member(agency, Role.STAFF, assigned=clients)
            else:
                make_member(agency, Role.CLIENT_VIEWER, client=clients[i % 3])

    _constant(lambda: client.get("/api/v1/members", headers=bearer(token)), grow)


# --- Identity and tenant: one statement per authenticated request (issue 8, point 7) ------

# What identity resolution touches: the token or session, the membership lookup, the agency
# by slug, the staff assignments, the RLS setting. (The agency switcher's "JOIN memberships"
# list is page content, not identity.)
IDENTITY_MARKS = re.compile(
    r"api_tokens|user_sessions|staff_assignments|set_config|WHERE agencies\.slug"
    r"|FROM memberships\s+WHERE memberships\.user_id"  # the old per-request membership lookup
)


def _identity_statements(statements: list[str]) -> list[str]:
    return [s for s in statements if IDENTITY_MARKS.search(s)]


def _assert_one_identity_statement(statements: list[str], *tables: str) -> None:
    """The first statement resolves identity (and sets RLS on PostgreSQL); no other does."""
    identity = _identity_statements(statements)
    assert identity == statements[:1], "identity took more than one statement:\n" + "\n".join(
        identity
    )
    for table in tables:
        assert f"FROM {table}" in statements[0] or f"JOIN {table}" in statements[0], table
    if db.is_postgresql:
        assert statements[0].startswith("SELECT set_config("), statements[0][:200]


def _web_client(app, user):  # noqa: ANN001, ANN202
    web = app.test_client()
    with web.session_transaction() as session:
        session["_user_id"] = session_id_for(user)
        session["_fresh"] = True
    return web


def _count(request: Callable[[], object]) -> tuple[object, list[str]]:
    request()  # warm-up: the token's once-a-minute last_used_at write is not what is measured
    db.session.remove()  # a fresh transaction per request, as in production
    with count_statements() as statements:
        response = request()
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response, statements


@pytest.mark.parametrize("role", [Role.OWNER, Role.STAFF, Role.CLIENT_MANAGER])
def test_api_request_costs_one_identity_statement_and_its_list_query(app, client, setup, role):
    agency, owner, token = setup
    mine, theirs = make_client(agency, "Mine"), make_client(agency, "Not mine")
    if role == Role.OWNER:
        user = owner
    elif role == Role.STAFF:
        user = make_member(agency, role, assigned=[mine])
    else:
        user = make_member(agency, role, client=mine)
    token = token_for(user, agency)
    response, statements = _count(
        lambda: client.get("/api/v1/clients?limit=50", headers=bearer(token))
    )
    _assert_one_identity_statement(statements, "api_tokens", "users", "memberships", "agencies")
    assert len(statements) == 2, "\n".join(statements)  # identity + the list
    names = {c["name"] for c in response.get_json()["items"]}
    # The staff member's assignments came from the same statement, read under RLS.
    assert names == ({"Mine", "Not mine"} if role == Role.OWNER else {"Mine"}), theirs


@pytest.mark.parametrize("role", [Role.OWNER, Role.STAFF, Role.CLIENT_MANAGER])
def test_web_page_costs_one_identity_statement(app, setup, role):
    agency, owner, _token = setup
    mine, _theirs = make_client(agency, "Mine"), make_client(agency, "Not mine")
    if role == Role.OWNER:
        user = owner
    elif role == Role.STAFF:
        user = make_member(agency, role, assigned=[mine])
    else:
        user = make_member(agency, role, client=mine)
    web = _web_client(app, user)
    url = (
        f"/a/{agency.slug}/clients/{mine.id}"
        if role.is_client_role
        else f"/a/{agency.slug}/clients/"
    )
    response, statements = _count(lambda: web.get(url))
    _assert_one_identity_statement(statements, "users", "user_sessions", "memberships")
    assert "Mine" in response.get_data(as_text=True)


def test_an_agency_page_resolves_the_member_when_the_user_was_loaded_earlier(make_app, setup):
    """The identity statement carries the membership only when the user loader runs inside
    the tenant resolution. If anything loads the user earlier in the request (a hook
    registered ahead of it), the page must still resolve this member's own access, or
    answer 404 for an agency they are not in: never a 500 and never a wider access."""
    from flask_login import current_user

    agency, owner, _token = setup
    other = make_agency("Elsewhere")
    mine, _theirs = make_client(agency, "Mine"), make_client(agency, "Not mine")
    staff = make_member(agency, Role.STAFF, assigned=[mine])
    early = make_app()
    early.before_request_funcs.setdefault(None, []).insert(
        0, lambda: None if current_user.is_authenticated else None
    )
    for user, names in ((owner, {"Mine", "Not mine"}), (staff, {"Mine"})):
        web = _web_client(early, user)
        page = web.get(f"/a/{agency.slug}/clients/")
        assert page.status_code == 200, page.get_data(as_text=True)[:300]
        html = page.get_data(as_text=True)
        assert {n for n in ("Mine", "Not mine") if f">{n}<" in html} == names
        assert web.get(f"/a/{other.slug}/clients/").status_code == 404
        assert web.get("/a/no-such-agency/clients/").status_code == 404


def test_clients_page_costs_exactly_three_statements(app, setup):
    """Identity (with the agency switcher's list), the clients, and the navbar's unread
    notification count (a separate statement: it must run after the RLS setting is made):
    one more statement fails."""
    agency, owner, _token = setup
    make_client(agency, "Acme")
    web = _web_client(app, owner)
    _response, statements = _count(lambda: web.get(f"/a/{agency.slug}/clients/"))
    assert len(statements) == 3, "\n".join(statements)
    assert "FROM notifications" in statements[2], statements[2]


def test_page_outside_an_agency_loads_the_user_in_one_statement(app, setup):
    _agency, owner, _token = setup
    web = _web_client(app, owner)
    _response, statements = _count(lambda: web.get("/account"))
    assert "JOIN user_sessions" in statements[0], statements[0]
    assert not [s for s in statements if "set_config" in s], "no agency, nothing to set"


@pytest.mark.postgresql
def test_a_refused_session_row_leaves_no_rls_setting(app, setup):
    """A cookie from before a password change is refused even though its row was read."""

    from tenants.sessions import load_session_user

    agency, owner, _token = setup
    stale = session_id_for(owner)
    owner.password_hash = owner.password_hash + "x"  # what a password change does to get_id
    db.session.commit()
    db.session.remove()
    assert load_session_user(stale, agency.slug) is None
    raw = db.session.connection().exec_driver_sql  # bypasses the ORM's own RLS sync
    assert raw("SELECT current_setting('app.agency_id', true)").scalar() in (None, "")


def test_agency_switcher_from_the_identity_statement_lists_only_live_memberships(app, setup):
    """The switcher's agencies ride on the identity statement: the user's, live, by name."""
    agency, owner, _token = setup
    zeta = make_agency("Zeta Social", owner=owner)
    alpha = make_agency("Alpha Social", owner=owner)
    # Enough agencies that no other order matches name order by chance (1 in 720).
    others = [make_agency(f"{name} Social", owner=owner) for name in ("Delta", "Beta", "Gamma")]
    left = make_agency("Left Social", owner=owner)
    make_agency("Not Mine Social")
    membership = db.session.scalar(
        Membership.__table__.select()
        .with_only_columns(Membership.id)
        .where(Membership.agency_id == left.id)
    )
    db.session.get(Membership, membership).active = False
    db.session.commit()
    html = _web_client(app, owner).get(f"/a/{zeta.slug}/clients/").get_data(as_text=True)
    switcher = html.split('aria-labelledby="agency-switcher"')[1].split("</ul>")[0]
    names = re.findall(r">([^<>]+ Social|Agency \d+)</a>", switcher)
    mine = [agency.name, zeta.name, alpha.name, *(other.name for other in others)]
    assert names == sorted(mine), switcher
    assert 'aria-current="true"' in switcher.split(zeta.name)[0].rsplit("<li>", 1)[1]


@pytest.mark.postgresql
def test_pooled_connection_is_pinged_only_after_idling_and_replaced_when_dead(
    app, database_url, monkeypatch
):
    """No ping round trip for a connection just returned; an idle, dead one is replaced."""
    import psycopg

    from agency import db as engines
    from tests import pg

    engine = engines.Database()._engine_for(database_url + "?application_name=ping-test")
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(conn) -> bool:  # noqa: ANN001
        pings.append(conn)
        return real_ping(conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        for _ in range(3):  # hot: returned moments ago, so used without a ping
            with engine.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert pings == []
        with psycopg.connect(pg.ADMIN_DSN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 0.0)  # now it counts as idle
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
        assert pings, "the idle connection was not pinged"
    finally:
        engine.dispose()
