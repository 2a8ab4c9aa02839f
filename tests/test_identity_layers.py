"""The identity statement's two layers, each on its own (written for the mutation run of
``tenants/identity.py``, bench/mutation/mutI.md).

A bearer token is refused when it is revoked, expired (at its expiry instant too) or its
user is inactive. The statement's WHERE clause decides, and ``token_refused`` repeats the
checks in Python so a wrong query cannot widen it. Through the API each layer hides the
other's mistakes, so each is tested alone here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agency.db import db, utcnow
from tenants import identity
from tenants.models import ApiToken, Role, User
from tenants.service import _hash_token
from tests.factories import make_agency, owner_of, token_for

NOW = utcnow()
REFUSED = {
    "revoked": ({"revoked_at": NOW - timedelta(minutes=1)}, {}),
    "expired at this instant": ({"expires_at": NOW}, {}),
    "expired": ({"expires_at": NOW - timedelta(days=1)}, {}),
    "user inactive": ({}, {"active": False}),
}
LIVE = {
    "no expiry": ({}, {}),
    "expires in a moment": ({"expires_at": NOW + timedelta(milliseconds=1)}, {}),
}


def _stored_token(token_fields: dict, user_fields: dict) -> str:
    """A token of a fresh agency's owner, with these fields; its hash."""
    agency = make_agency()
    owner = owner_of(agency)
    token_hash = _hash_token(token_for(owner, agency))
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
    for name, value in token_fields.items():
        setattr(token, name, value)
    for name, value in user_fields.items():
        setattr(db.session.get(User, owner.id), name, value)
    db.session.commit()
    return token_hash


def _rows(token_hash: str) -> list:
    params = {"token_hash": token_hash, "now": NOW}
    stmt = identity._api_statement()
    rows = db.session.execute(stmt, params, execution_options=identity._OPTIONS).all()
    db.session.rollback()
    return rows


@pytest.mark.parametrize("case", list(REFUSED))
def test_the_statement_alone_finds_no_row_for_a_refused_token(app, database_url, case):
    assert _rows(_stored_token(*REFUSED[case])) == []


@pytest.mark.parametrize("case", list(LIVE))
def test_the_statement_alone_finds_a_live_token(app, database_url, case):
    assert len(_rows(_stored_token(*LIVE[case]))) == 1


@pytest.mark.parametrize("case", list(REFUSED) + list(LIVE))
def test_the_python_checks_alone_refuse_what_the_statement_should_have(case):
    token_fields, user_fields = {**REFUSED, **LIVE}[case]
    token = ApiToken(**{"revoked_at": None, "expires_at": None, **token_fields})
    user = User(**{"active": True, **user_fields})
    assert identity.token_refused(token, user, NOW) is (case in REFUSED)


def test_each_staff_member_gets_only_their_own_assigned_clients(app, database_url):
    """The identity statement's staff-assignment subquery is tied to this membership."""
    from tests.factories import make_client, make_member

    agency = make_agency()
    north, south = make_client(agency, "North"), make_client(agency, "South")
    first = make_member(agency, Role.STAFF, assigned=[north])
    second = make_member(agency, Role.STAFF, assigned=[south])
    cases = [(_hash_token(token_for(first, agency)), north.id)]
    cases.append((_hash_token(token_for(second, agency)), south.id))
    for token_hash, client_id in cases:
        _token, access = identity.resolve_api_identity(token_hash)
        assert access.assigned_client_ids == {client_id}
        db.session.rollback()


def test_a_member_with_client_roles_too_keeps_every_role(app, database_url):
    """One row per live membership: an owner who is also a viewer of two client companies
    keeps the agency role and both client roles, whatever order the rows come in."""
    from tenants.service import add_membership
    from tests.factories import make_client

    agency = make_agency()
    owner = owner_of(agency)
    first, second = make_client(agency, "First"), make_client(agency, "Second")
    for client in (first, second):
        add_membership(owner, agency, Role.CLIENT_VIEWER, client_id=client.id)
    db.session.commit()

    expected = {first.id: Role.CLIENT_VIEWER, second.id: Role.CLIENT_VIEWER}
    _token, access = identity.resolve_api_identity(_hash_token(token_for(owner, agency)))

    assert access.agency_role == Role.OWNER
    assert access.client_roles == expected
    db.session.rollback()


def test_a_session_resolves_only_with_its_own_user_and_only_while_they_are_active(
    app, database_url
):
    from tenants.models import UserSession
    from tests.factories import make_user

    agency = make_agency()
    owner, other = owner_of(agency), make_user()
    mine, theirs = UserSession(user_id=owner.id), UserSession(user_id=other.id)
    db.session.add_all([mine, theirs])
    db.session.commit()
    for slug in (None, agency.slug):
        assert identity.resolve_session_identity(owner.id, mine.id, slug)[0].id == owner.id
        db.session.rollback()
        assert identity.resolve_session_identity(owner.id, theirs.id, slug) is None
        db.session.rollback()
    db.session.get(User, owner.id).active = False
    db.session.commit()
    for slug in (None, agency.slug):
        assert identity.resolve_session_identity(owner.id, mine.id, slug) is None
        db.session.rollback()
