"""Staff see only the clients assigned to them now: deactivation, re-invitation and role
changes start from no assignments, so nothing assigned before comes back by itself."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from agency.db import db, utcnow
from tenants import service
from tenants.context import tenant_context
from tenants.models import Invitation, Membership, Role, StaffAssignment
from tests.factories import PASSWORD, make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import AuthActions, bearer, csrf_from


def _membership(user, agency) -> Membership:  # noqa: ANN001
    db.session.rollback()
    return db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.agency_id == agency.id)
    )


def _stale_assignments(membership: Membership, *clients) -> None:  # noqa: ANN002
    """Assignments left behind by the old code, which never cleared them."""
    for client in clients:
        service.assign_staff(membership, client.id)
    db.session.commit()


def _visible_to(client, user, agency) -> set[str]:  # noqa: ANN001
    headers = bearer(token_for(user, agency))
    response = client.get("/api/v1/clients", headers=headers)
    assert response.status_code == 200, response.json
    return {c["name"] for c in response.json["items"]}


def _member_json(client, headers, membership_id) -> dict:  # noqa: ANN001
    members = client.get("/api/v1/members", headers=headers).json["items"]
    return next(m for m in members if m["id"] == str(membership_id))


def test_deactivation_clears_assignments_so_reactivation_starts_from_none(client, database_url):
    agency = make_agency()
    alfa, beta = make_client(agency, "Alfa"), make_client(agency, "Beta")
    staff = make_member(agency, Role.STAFF, assigned=[alfa, beta])
    headers = bearer(token_for(owner_of(agency), agency))
    membership_id = _membership(staff, agency).id
    assert _visible_to(client, staff, agency) == {"Alfa", "Beta"}

    off = client.patch(f"/api/v1/members/{membership_id}", json={"active": False}, headers=headers)
    on = client.patch(f"/api/v1/members/{membership_id}", json={"active": True}, headers=headers)

    assert off.status_code == 200 and on.status_code == 200
    assert off.json["assigned_client_ids"] == []
    assert _member_json(client, headers, membership_id)["assigned_client_ids"] == []
    assert _visible_to(client, staff, agency) == set()


def test_reinvited_staff_sees_only_the_clients_of_the_new_invitation(client, database_url):
    agency = make_agency()
    alfa, beta, gamma = (make_client(agency, n) for n in ("Alfa", "Beta", "Gamma"))
    staff = make_member(agency, Role.STAFF, email="back@example.com")
    membership = _membership(staff, agency)
    membership.active = False
    db.session.commit()
    _stale_assignments(membership, alfa, beta)
    headers = bearer(token_for(owner_of(agency), agency))

    invited = client.post(
        "/api/v1/invitations",
        json={"email": "back@example.com", "role": "staff", "assigned_client_ids": [str(gamma.id)]},
        headers=headers,
    )
    # An existing account accepts while signed in (issue 6 finding 1): sign in, then accept.
    assert AuthActions(client).login("back@example.com", PASSWORD).status_code == 302
    page = client.get(f"/invitations/{invited.json['token']}").get_data(as_text=True)
    accepted = client.post(
        f"/invitations/{invited.json['token']}", data={"csrf_token": csrf_from(page)}
    )

    assert invited.status_code == 201 and accepted.status_code == 302, accepted.data
    assert _membership(staff, agency).active is True
    assert _visible_to(client, staff, agency) == {"Gamma"}
    with tenant_context(agency.id):
        rows = set(db.session.scalars(select(StaffAssignment.client_id)))
    assert rows == {gamma.id}


def test_a_role_change_starts_from_no_assignments(client, database_url):
    agency = make_agency()
    alfa = make_client(agency, "Alfa")
    person = make_member(agency, Role.MANAGER)
    membership = _membership(person, agency)
    _stale_assignments(membership, alfa)
    headers = bearer(token_for(owner_of(agency), agency))

    response = client.patch(
        f"/api/v1/members/{membership.id}", json={"role": "staff"}, headers=headers
    )

    assert response.status_code == 200, response.json
    assert response.json["role"] == "staff"
    assert response.json["assigned_client_ids"] == []
    assert _visible_to(client, person, agency) == set()


def test_staff_to_manager_and_back_keeps_nothing(client, database_url):
    agency = make_agency()
    alfa = make_client(agency, "Alfa")
    staff = make_member(agency, Role.STAFF, assigned=[alfa])
    membership_id = _membership(staff, agency).id
    headers = bearer(token_for(owner_of(agency), agency))

    for role in ("manager", "staff"):
        r = client.patch(f"/api/v1/members/{membership_id}", json={"role": role}, headers=headers)
        assert r.status_code == 200, r.json

    assert _visible_to(client, staff, agency) == set()


def test_a_new_invitation_replaces_an_expired_one_to_the_same_address(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {"email": "late@example.com", "role": "manager"}
    first = client.post("/api/v1/invitations", json=body, headers=headers)
    db.session.execute(update(Invitation).values(expires_at=utcnow() - timedelta(hours=1)))
    db.session.commit()

    second = client.post("/api/v1/invitations", json=body, headers=headers)

    assert first.status_code == 201 and second.status_code == 201, second.json
    db.session.rollback()
    states = {
        str(i.id): (i.revoked_at is not None)
        for i in db.session.scalars(select(Invitation).where(Invitation.email == body["email"]))
    }
    assert states == {first.json["id"]: True, second.json["id"]: False}
