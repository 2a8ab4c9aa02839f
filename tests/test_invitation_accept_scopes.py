"""Accepting joins the invitation's own scope (the agency, or one client company) and nothing
else: a membership in another scope neither blocks nor absorbs it, and a membership that
already exists in that scope is a clear 422 that writes nothing.

Written for the mutation run (bench/MUTATION.md): ``acceptance._join`` survivors.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from agency.db import db
from tenants import service as accounts
from tenants.models import Invitation, Membership, Role, User
from tests.factories import PASSWORD, make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer

ALREADY = {"email": ["You are already a member here."]}


def _invite(client, agency, email: str, role: str, client_id=None) -> str:  # noqa: ANN001
    body = {"email": email, "role": role}
    if client_id is not None:
        body["client_id"] = str(client_id)
    response = client.post(
        "/api/v1/invitations", json=body, headers=bearer(token_for(owner_of(agency), agency))
    )
    assert response.status_code == 201, response.json
    return response.json["token"]


def _memberships(user: User) -> set[tuple[str, object, bool]]:
    rows = db.session.execute(
        select(Membership.role, Membership.client_id, Membership.active).where(
            Membership.user_id == user.id
        )
    )
    return {tuple(row) for row in rows}


def _accept_as(client, token: str, user: User, agency):  # noqa: ANN001
    return client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=bearer(token_for(user, agency)),
    )


def test_agency_staff_accepts_a_client_invitation_of_the_same_agency(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    acme_id = acme.id  # read before expire_all (RLS hides a refresh)
    person = make_member(agency, Role.STAFF, email="both@example.com")
    token = _invite(client, agency, "both@example.com", "client_manager", acme_id)

    response = _accept_as(client, token, person, agency)

    assert response.status_code == 201, response.json
    db.session.expire_all()
    assert _memberships(person) == {("staff", None, True), ("client_manager", acme_id, True)}


def test_member_of_one_client_accepts_an_invitation_to_another_client(client, database_url):
    agency = make_agency()
    acme, globex = make_client(agency, "Acme"), make_client(agency, "Globex")
    acme_id, globex_id = acme.id, globex.id  # read before expire_all (RLS hides a refresh)
    person = make_member(agency, Role.CLIENT_VIEWER, client=acme, email="c@example.com")
    token = _invite(client, agency, "c@example.com", "client_viewer", globex_id)

    response = _accept_as(client, token, person, agency)

    assert response.status_code == 201, response.json
    db.session.expire_all()
    assert _memberships(person) == {
        ("client_viewer", acme_id, True),
        ("client_viewer", globex_id, True),
    }


def test_client_member_accepts_a_staff_invitation_of_the_same_agency(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    acme_id = acme.id  # read before expire_all (RLS hides a refresh)
    person = make_member(agency, Role.CLIENT_MANAGER, client=acme, email="c@example.com")
    token = _invite(client, agency, "c@example.com", "staff")

    response = _accept_as(client, token, person, agency)

    assert response.status_code == 201, response.json
    db.session.expire_all()
    assert _memberships(person) == {("client_manager", acme_id, True), ("staff", None, True)}


def test_accepting_in_a_scope_already_joined_is_a_422_that_writes_nothing(client, database_url):
    agency = make_agency()
    token = _invite(client, agency, "late@example.com", "staff")
    # Joined some other way while the invitation waited (here: added directly).
    person = make_member(agency, Role.FINANCE, email="late@example.com")

    response = _accept_as(client, token, person, agency)

    assert response.status_code == 422
    assert response.json["errors"]["json"] == ALREADY
    db.session.expire_all()
    assert _memberships(person) == {("finance", None, True)}
    assert db.session.scalar(select(Invitation.accepted_at)) is None


def test_a_deactivated_client_member_reinvited_to_that_client_is_reactivated(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    acme_id = acme.id  # read before expire_all (RLS hides a refresh)
    person = make_member(agency, Role.CLIENT_VIEWER, client=acme, email="back@example.com")
    db.session.execute(
        update(Membership).where(Membership.user_id == person.id).values(active=False)
    )
    home = make_agency()
    accounts.add_membership(person, home, Role.STAFF)  # signs in through another agency
    db.session.commit()
    token = _invite(client, agency, "back@example.com", "client_manager", acme_id)

    response = _accept_as(client, token, person, home)

    assert response.status_code == 201, response.json
    db.session.expire_all()
    # The same row, active again with the new role: no second membership.
    assert _memberships(person) == {("client_manager", acme_id, True), ("staff", None, True)}


@pytest.mark.parametrize("existing", [False, True])
def test_a_concurrent_accept_that_won_the_race_is_a_422_that_writes_nothing(
    client, database_url, monkeypatch, existing
):
    agency = make_agency()
    email = "race@example.com"
    home = make_agency()
    person = make_member(home, Role.STAFF, email=email) if existing else None
    token = _invite(client, agency, email, "staff")
    users = db.session.scalar(select(func.count()).select_from(User))

    def lost_the_race(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise IntegrityError("INSERT INTO memberships", {}, Exception("uq_memberships"))

    monkeypatch.setattr(accounts, "add_membership", lost_the_race)
    if existing:
        response = _accept_as(client, token, person, home)
    else:
        response = client.post(
            "/api/v1/invitations/accept",
            json={"token": token, "name": "Racer", "password": PASSWORD},
        )

    assert response.status_code == 422
    assert response.json["errors"]["json"] == ALREADY
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    assert db.session.scalar(select(Invitation.accepted_at)) is None
