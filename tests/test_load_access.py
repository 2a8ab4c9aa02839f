"""``tenants.service.load_access``: the access built for the API token exchange, the review
links, personal tokens, the page menu and a request whose user signed in during it.

Pages signed in by cookie get their access from ``load_session_user``'s own query, so most of
the suite never reaches this one; mutmut left its client-role and staff-assignment branches
untested (the mutation run of 2026-11-27)."""

from __future__ import annotations

from agency.db import db
from tenants.models import Role
from tenants.service import add_membership, assign_staff, load_access
from tests.factories import make_agency, make_client, make_member, make_user, owner_of


def test_staff_get_their_agency_role_and_exactly_their_assigned_clients(app, database_url):
    agency, elsewhere = make_agency(), make_agency()
    mine, theirs, foreign = make_client(agency), make_client(agency), make_client(elsewhere)
    staff = make_member(agency, Role.STAFF, assigned=[mine])
    colleague = make_member(agency, Role.STAFF, assigned=[theirs])
    other_staff_membership = add_membership(staff, elsewhere, Role.STAFF)
    assign_staff(other_staff_membership, foreign.id)
    db.session.commit()

    access = load_access(staff, agency)

    assert access.agency_role == Role.STAFF
    assert access.client_roles == {}
    assert access.assigned_client_ids == {mine.id}
    assert load_access(colleague, agency).assigned_client_ids == {theirs.id}
    assert load_access(staff, elsewhere).assigned_client_ids == {foreign.id}


def test_agency_roles_other_than_staff_have_no_assignments_loaded(app, database_url):
    agency = make_agency()
    client = make_client(agency)
    owner = owner_of(agency)

    for user, role in ((owner, Role.OWNER), (make_member(agency, Role.MANAGER), Role.MANAGER)):
        access = load_access(user, agency)
        assert access.agency_role == role
        assert access.assigned_client_ids == set()
        assert access.can_see_client(client.id)


def test_client_members_get_their_role_per_client_and_no_agency_role(app, database_url):
    agency = make_agency()
    first, second, unrelated = make_client(agency), make_client(agency), make_client(agency)
    user = make_member(agency, Role.CLIENT_MANAGER, client=first)
    add_membership(user, agency, Role.CLIENT_VIEWER, client_id=second.id)
    db.session.commit()

    access = load_access(user, agency)

    assert access.agency_role is None
    assert access.client_roles == {first.id: Role.CLIENT_MANAGER, second.id: Role.CLIENT_VIEWER}
    assert access.assigned_client_ids == set()
    assert not access.can_see_client(unrelated.id)


def test_no_access_without_a_live_membership_or_for_an_inactive_account(app, database_url):
    agency, other = make_agency(), make_agency()
    member = make_member(agency, Role.MANAGER)
    assert load_access(member, other) is None
    assert load_access(make_user(), agency) is None

    member.active = False
    db.session.commit()

    assert load_access(member, agency) is None
