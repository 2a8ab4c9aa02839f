"""Members page and API: roles, assignments, deactivation, ownership, last-owner protection."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from agency.audit import AuditEvent
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Membership, Role, StaffAssignment
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post


def _membership(user, agency) -> Membership:  # noqa: ANN001
    return db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.agency_id == agency.id,
            Membership.client_id.is_(None),
        )
    )


def _post(client, agency, path: str, data: dict | None = None):  # noqa: ANN001, ANN202
    return form_post(
        client, f"/a/{agency.slug}{path}", data or {}, page=f"/a/{agency.slug}/members"
    )


@contextmanager
def _count_queries():
    counter = {"n": 0}

    def before(*_args, **_kwargs) -> None:
        counter["n"] += 1

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_members_page_lists_everyone_in_a_constant_number_of_queries(client, auth, database_url):
    agency = make_agency()
    clients = [make_client(agency, f"C{i}") for i in range(3)]
    auth.login(owner_of(agency).email)
    make_member(agency, Role.STAFF, assigned=clients[:1])
    with _count_queries() as few:
        assert client.get(f"/a/{agency.slug}/members").status_code == 200
    for i in range(6):
        make_member(agency, Role.STAFF, assigned=clients)
        make_member(agency, Role.CLIENT_VIEWER, client=clients[i % 3])
    with _count_queries() as many:
        page = client.get(f"/a/{agency.slug}/members")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count('id="member-') == 14
    assert many["n"] == few["n"]


def test_owner_changes_a_role_and_it_is_audited(client, auth, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    staff = make_member(agency, Role.STAFF)
    auth.login(owner.email)
    m = _membership(staff, agency)

    response = _post(client, agency, f"/members/{m.id}/role", {"role": "finance"})

    assert response.status_code == 302
    db.session.refresh(m)
    assert m.role == "finance"
    with tenant_context(agency.id):
        audit = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "member.role_changed")
        )
    assert audit.actor_id == owner.id and audit.subject_id == m.id
    assert audit.data["old_role"] == "staff" and audit.data["new_role"] == "finance"


def test_manager_cannot_grant_owner_nor_touch_an_owner(client, auth, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    manager = make_member(agency, Role.MANAGER)
    staff = make_member(agency, Role.STAFF)
    auth.login(manager.email)

    promote = _post(
        client, agency, f"/members/{_membership(staff, agency).id}/role", {"role": "owner"}
    )
    demote = _post(
        client, agency, f"/members/{_membership(owner, agency).id}/role", {"role": "staff"}
    )
    deactivate = _post(client, agency, f"/members/{_membership(owner, agency).id}/deactivate")

    assert (promote.status_code, demote.status_code, deactivate.status_code) == (403, 403, 403)
    assert _membership(staff, agency).role == "staff"
    owner_m = _membership(owner, agency)
    assert owner_m.role == "owner" and owner_m.active


def test_last_owner_can_never_be_demoted_or_deactivated(client, auth, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    manager = make_member(agency, Role.MANAGER)
    auth.login(owner.email)
    mine = _membership(owner, agency)

    demote = _post(client, agency, f"/members/{mine.id}/role", {"role": "manager"})
    api = client.patch(
        f"/api/v1/members/{mine.id}",
        json={"active": False},
        headers=bearer(token_for(owner, agency)),
    )

    assert demote.status_code == 409
    assert "at least one owner" in demote.get_data(as_text=True)
    assert api.status_code == 409 and "at least one owner" in api.json["message"]
    db.session.refresh(mine)
    assert mine.role == "owner" and mine.active
    # With a second owner the first may step down.
    _post(client, agency, f"/members/{_membership(manager, agency).id}/role", {"role": "owner"})
    assert _post(client, agency, f"/members/{mine.id}/role", {"role": "manager"}).status_code == 302
    db.session.refresh(mine)
    assert mine.role == "manager"


def test_deactivated_member_loses_session_and_token_at_once(client, auth, make_app, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    staff = make_member(agency, Role.STAFF)
    token = token_for(staff, agency)
    staff_client = client.application.test_client()
    AuthActions(staff_client).login(staff.email)
    assert staff_client.get(f"/a/{agency.slug}/").status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    auth.login(owner.email)
    m = _membership(staff, agency)

    assert _post(client, agency, f"/members/{m.id}/deactivate").status_code == 302

    assert staff_client.get(f"/a/{agency.slug}/").status_code == 404
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert _post(client, agency, f"/members/{m.id}/reactivate").status_code == 302
    assert staff_client.get(f"/a/{agency.slug}/").status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401  # revoked for good


def test_nobody_deactivates_themselves(client, auth, database_url):
    agency = make_agency()
    make_member(agency, Role.OWNER)
    owner = owner_of(agency)
    auth.login(owner.email)
    response = _post(client, agency, f"/members/{_membership(owner, agency).id}/deactivate")
    assert response.status_code == 409
    assert _membership(owner, agency).active


def test_owner_transfers_ownership_and_becomes_manager(client, auth, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    heir = make_member(agency, Role.STAFF, assigned=[make_client(agency)])
    auth.login(owner.email)

    response = _post(client, agency, f"/members/{_membership(heir, agency).id}/transfer-ownership")

    assert response.status_code == 302
    assert _membership(heir, agency).role == "owner"
    assert _membership(owner, agency).role == "manager"
    with tenant_context(agency.id):
        assert db.session.scalars(select(StaffAssignment)).all() == []
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "agency.ownership_transferred" in actions


def test_manager_cannot_transfer_ownership(client, auth, database_url):
    agency = make_agency()
    manager = make_member(agency, Role.MANAGER)
    staff = make_member(agency, Role.STAFF)
    auth.login(manager.email)
    response = _post(client, agency, f"/members/{_membership(staff, agency).id}/transfer-ownership")
    assert response.status_code == 403
    assert _membership(staff, agency).role == "staff"
    assert _membership(owner_of(agency), agency).role == "owner"


def test_staff_assignments_decide_which_clients_staff_see(client, auth, database_url):
    agency = make_agency()
    make_client(agency, "Alfa Srl")
    beta = make_client(agency, "Beta Spa")
    staff = make_member(agency, Role.STAFF)
    auth.login(owner_of(agency).email)
    m = _membership(staff, agency)

    response = _post(client, agency, f"/members/{m.id}/assignments", {"client_ids": [str(beta.id)]})

    assert response.status_code == 302
    staff_client = client.application.test_client()
    AuthActions(staff_client).login(staff.email)
    page = staff_client.get(f"/a/{agency.slug}/").get_data(as_text=True)
    assert "Beta Spa" in page and "Alfa Srl" not in page


def test_assigning_another_agencys_client_writes_nothing(client, auth, database_url):
    agency = make_agency()
    foreign = make_client(make_agency(), "Foreign")
    staff = make_member(agency, Role.STAFF)
    token = token_for(owner_of(agency), agency)
    m = _membership(staff, agency)

    response = client.patch(
        f"/api/v1/members/{m.id}",
        json={"assigned_client_ids": [str(foreign.id)]},
        headers=bearer(token),
    )

    assert response.status_code == 422
    assert "assigned_client_ids" in response.json["errors"]["json"]
    with tenant_context(agency.id):
        assert db.session.scalars(select(StaffAssignment)).all() == []


def test_unknown_role_is_refused_and_changes_nothing(client, database_url):
    agency = make_agency()
    staff = make_member(agency, Role.STAFF)
    m = _membership(staff, agency)
    headers = bearer(token_for(owner_of(agency), agency))

    bad = client.patch(f"/api/v1/members/{m.id}", json={"role": "emperor"}, headers=headers)
    client_role = client.patch(
        f"/api/v1/members/{m.id}", json={"role": "client_viewer"}, headers=headers
    )

    assert bad.status_code == 422 and client_role.status_code == 422
    assert _membership(staff, agency).role == "staff"


def test_members_api_lists_members_with_their_roles(client, database_url):
    agency = make_agency()
    c = make_client(agency)
    make_member(agency, Role.CLIENT_MANAGER, client=c, email="cm@example.com")
    response = client.get("/api/v1/members", headers=bearer(token_for(owner_of(agency), agency)))
    assert response.status_code == 200
    roles = {(i["user"]["email"], i["role"], i["client_id"]) for i in response.json["items"]}
    assert ("cm@example.com", "client_manager", str(c.id)) in roles
    assert len(roles) == 2
