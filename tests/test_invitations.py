"""Invitations through HTTP: invite, e-mail, accept (new or existing account), resend, revoke."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.config import Settings
from agency.db import db, utcnow
from tenants.context import tenant_context
from tenants.models import Invitation, Membership, Role, StaffAssignment, User
from tests.factories import PASSWORD, make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import AuthActions, bearer, csrf_from, form_post

LINK_RE = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_\-]+)")


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _invite_web(client, agency, **fields):  # noqa: ANN001, ANN202
    data = {"invite-email": fields.pop("email", "new@example.com"), "invite-role": "manager"}
    data.update({f"invite-{k}": v for k, v in fields.items()})
    return form_post(
        client, f"/a/{agency.slug}/members/invite", data, page=f"/a/{agency.slug}/members"
    )


def _link_of(message) -> str:  # noqa: ANN001
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = LINK_RE.search(text)
    assert match, text
    return match.group(1)


def test_owner_invites_a_manager_who_sets_a_password_and_lands_in_the_agency(smtp, database_url):
    agency = make_agency("Lanterna Digital")
    client = smtp.client
    AuthActions(client).login(owner_of(agency).email)

    response = _invite_web(client, agency, email="Marta@Example.com", role="manager")

    assert response.status_code == 302
    [message] = smtp.messages
    assert message.envelope_rcpt == ["marta@example.com"]
    assert "Lanterna Digital" in message["Subject"]
    path = _link_of(message)
    invitation = db.session.scalar(select(Invitation))
    token = path.rsplit("/", 1)[1]
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash

    invitee = smtp.app.test_client()
    page = invitee.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Lanterna Digital" in html and "Manager" in html
    accepted = invitee.post(
        path, data={"csrf_token": csrf_from(html), "name": "Marta Rossi", "password": PASSWORD}
    )
    assert accepted.status_code == 302
    assert accepted.location.endswith(f"/a/{agency.slug}/")
    assert invitee.get(accepted.location).status_code == 200
    user = db.session.scalar(select(User).where(User.email == "marta@example.com"))
    assert user.name == "Marta Rossi"
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.role == "manager" and membership.agency_id == agency.id
    with tenant_context(agency.id):
        actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"invitation.created", "invitation.accepted"} <= actions


def test_used_invitation_link_answers_410_and_writes_nothing(smtp, database_url):
    agency = make_agency()
    AuthActions(smtp.client).login(owner_of(agency).email)
    _invite_web(smtp.client, agency, email="once@example.com", role="staff")
    path = _link_of(smtp.messages[0])
    invitee = smtp.app.test_client()
    html = invitee.get(path).get_data(as_text=True)
    invitee.post(path, data={"csrf_token": csrf_from(html), "name": "A", "password": PASSWORD})
    users = _count(User)

    other = smtp.app.test_client()
    again = other.get(path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    token = path.rsplit("/", 1)[1]
    api = other.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "B", "password": PASSWORD}
    )
    assert api.status_code == 410
    assert api.json["code"] == 410 and "already been used" in api.json["message"]
    assert _count(User) == users


def test_expired_invitation_answers_410_and_writes_nothing(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    response = client.post(
        "/api/v1/invitations",
        json={"email": "late@example.com", "role": "finance"},
        headers=bearer(token_for(owner_of(agency), agency)),
    )
    token = response.json["token"]
    invitation = db.session.scalar(select(Invitation))
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    users = _count(User)

    anonymous = client.application.test_client()
    page = anonymous.get(f"/invitations/{token}")
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    api = anonymous.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "L", "password": PASSWORD}
    )
    assert api.status_code == 410
    assert _count(User) == users
    assert db.session.scalar(select(Invitation.accepted_at)) is None


def test_revoked_invitation_answers_410(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    _invite_web(client, agency, email="gone@example.com", role="staff")
    invitation = db.session.scalar(select(Invitation))
    members = f"/a/{agency.slug}/members"
    assert "gone@example.com" in client.get(members).get_data(as_text=True)

    response = form_post(
        client, f"/a/{agency.slug}/invitations/{invitation.id}/revoke", {}, page=members
    )

    assert response.status_code == 302
    db.session.refresh(invitation)
    assert invitation.revoked_at is not None
    assert "gone@example.com" not in client.get(members).get_data(as_text=True)


def test_revoked_token_cannot_be_accepted_through_the_api(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    created = client.post(
        "/api/v1/invitations", json={"email": "r@example.com", "role": "staff"}, headers=headers
    ).json
    assert (
        client.post(f"/api/v1/invitations/{created['id']}/revoke", headers=headers).json["status"]
        == "revoked"
    )
    users = _count(User)

    response = client.post(
        "/api/v1/invitations/accept",
        json={"token": created["token"], "name": "R", "password": PASSWORD},
    )

    assert response.status_code == 410 and "withdrawn" in response.json["message"]
    assert _count(User) == users


def test_unknown_token_answers_410(client, database_url):
    assert client.get("/invitations/not-a-real-token").status_code == 410
    response = client.post(
        "/api/v1/invitations/accept", json={"token": "nope", "name": "X", "password": PASSWORD}
    )
    assert response.status_code == 410
    assert response.json["message"] == "This invitation link is not valid."


def test_resend_issues_a_new_link_and_the_old_one_stops_working(smtp, database_url):
    agency = make_agency()
    AuthActions(smtp.client).login(owner_of(agency).email)
    _invite_web(smtp.client, agency, email="again@example.com", role="finance")
    invitation = db.session.scalar(select(Invitation))
    old_path = _link_of(smtp.messages[0])

    response = form_post(
        smtp.client,
        f"/a/{agency.slug}/invitations/{invitation.id}/resend",
        {},
        page=f"/a/{agency.slug}/members",
    )

    assert response.status_code == 302
    assert len(smtp.messages) == 2
    new_path = _link_of(smtp.messages[1])
    assert new_path != old_path
    db.session.refresh(invitation)
    assert invitation.send_count == 2
    fresh = smtp.app.test_client()
    assert fresh.get(old_path).status_code == 410
    assert fresh.get(new_path).status_code == 200


def test_existing_account_signs_in_then_accepts_without_a_password(client, database_url):
    home = make_agency("Home Agency")
    person = make_member(home, Role.STAFF, email="known@example.com")
    agency = make_agency("Second Agency")
    headers = bearer(token_for(owner_of(agency), agency))
    token = client.post(
        "/api/v1/invitations", json={"email": "known@example.com", "role": "staff"}, headers=headers
    ).json["token"]
    invitee = client.application.test_client()
    html = invitee.get(f"/invitations/{token}").get_data(as_text=True)
    assert "already has a Regia account" in html
    assert 'type="password"' not in html
    assert f"/login?next=/invitations/{token}" in html

    AuthActions(invitee).login("known@example.com")
    page = invitee.get(f"/invitations/{token}").get_data(as_text=True)
    assert 'type="password"' not in page
    right = invitee.post(f"/invitations/{token}", data={"csrf_token": csrf_from(page)})
    assert right.status_code == 302
    assert right.location.endswith(f"/a/{agency.slug}/")
    joined = db.session.scalar(
        select(Membership).where(Membership.user_id == person.id, Membership.agency_id == agency.id)
    )
    assert joined is not None and joined.role == "staff"
    assert db.session.get(User, person.id).name == person.name


def test_api_invites_and_accepts_with_a_new_token_for_that_agency(client, database_url):
    agency = make_agency()
    target = make_client(agency, "Bella Vista")
    headers = bearer(token_for(owner_of(agency), agency))

    created = client.post(
        "/api/v1/invitations",
        json={"email": "cm@example.com", "role": "client_manager", "client_id": str(target.id)},
        headers=headers,
    )

    assert created.status_code == 201
    body = created.json
    assert set(body) >= {"id", "accept_url", "token"}
    assert body["accept_url"].endswith(f"/invitations/{body['token']}")
    accepted = client.post(
        "/api/v1/invitations/accept",
        json={"token": body["token"], "name": "Chiara", "password": PASSWORD},
    )
    assert accepted.status_code == 201
    assert accepted.json["user"]["email"] == "cm@example.com"
    me = client.get("/api/v1/me", headers=bearer(accepted.json["token"]))
    assert me.status_code == 200
    assert me.json["client_roles"] == [{"client_id": str(target.id), "role": "client_manager"}]


def test_api_accept_with_a_weak_password_writes_nothing(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    token = client.post(
        "/api/v1/invitations", json={"email": "w@example.com", "role": "staff"}, headers=headers
    ).json["token"]
    users = _count(User)

    response = client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "", "password": "short"}
    )

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"name", "password"}
    assert _count(User) == users
    assert db.session.scalar(select(Invitation.accepted_at)) is None


def test_bad_invitations_answer_422_and_write_nothing(client, database_url):
    agency = make_agency()
    other = make_agency()
    foreign = make_client(other, "Foreign")
    mine = make_client(agency, "Mine")
    make_member(agency, Role.STAFF, email="member@example.com")
    headers = bearer(token_for(owner_of(agency), agency))
    client.post(
        "/api/v1/invitations",
        json={"email": "pending@example.com", "role": "staff"},
        headers=headers,
    )
    before = _count(Invitation)
    cases = [
        ({"email": "not an email", "role": "staff"}, "email"),
        ({"email": "x@example.com", "role": "emperor"}, "role"),
        ({"email": "x@example.com", "role": "client_manager"}, "client_id"),
        (
            {"email": "x@example.com", "role": "client_viewer", "client_id": str(foreign.id)},
            "client_id",
        ),
        ({"email": "x@example.com", "role": "manager", "client_id": str(mine.id)}, "client_id"),
        (
            {"email": "x@example.com", "role": "finance", "assigned_client_ids": [str(mine.id)]},
            "assigned_client_ids",
        ),
        (
            {"email": "x@example.com", "role": "staff", "assigned_client_ids": [str(foreign.id)]},
            "assigned_client_ids",
        ),
        ({"email": "member@example.com", "role": "manager"}, "email"),
        ({"email": "pending@example.com", "role": "finance"}, "email"),
    ]
    for payload, field in cases:
        response = client.post("/api/v1/invitations", json=payload, headers=headers)
        assert response.status_code == 422, payload
        assert field in response.json["errors"]["json"], (payload, response.json)
    assert _count(Invitation) == before


def test_web_invite_with_a_bad_email_shows_the_error_and_writes_nothing(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)

    response = _invite_web(client, agency, email="nope", role="staff")

    assert response.status_code == 422
    assert "invalid-feedback" in response.get_data(as_text=True)
    assert _count(Invitation) == 0


def test_manager_cannot_invite_an_owner(client, auth, database_url):
    agency = make_agency()
    manager = make_member(agency, Role.MANAGER)
    auth.login(manager.email)

    web = _invite_web(client, agency, email="boss@example.com", role="owner")
    api = client.post(
        "/api/v1/invitations",
        json={"email": "boss@example.com", "role": "owner"},
        headers=bearer(token_for(manager, agency)),
    )

    assert web.status_code == 403
    assert api.status_code == 403 and api.json["code"] == 403
    assert _count(Invitation) == 0


def test_staff_invitation_assigns_the_chosen_clients_on_accept(client, database_url):
    agency = make_agency()
    a, b = make_client(agency, "Alfa"), make_client(agency, "Beta")
    headers = bearer(token_for(owner_of(agency), agency))
    token = client.post(
        "/api/v1/invitations",
        json={"email": "s@example.com", "role": "staff", "assigned_client_ids": [str(a.id)]},
        headers=headers,
    ).json["token"]

    client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "S", "password": PASSWORD}
    )

    with tenant_context(agency.id):
        assigned = set(db.session.scalars(select(StaffAssignment.client_id)))
    assert assigned == {a.id}
    assert b.id not in assigned


def test_invitation_lifetime_comes_from_the_environment(tmp_path):
    settings = Settings.from_env(
        env={"REGIA_INVITATION_TTL_HOURS": "2", "REGIA_INSTANCE_PATH": str(tmp_path)}
    )
    assert settings.invitation_ttl_hours == 2
    assert Settings.from_env(env={"REGIA_INSTANCE_PATH": str(tmp_path)}).invitation_ttl_hours == 168


def test_invitation_expires_after_the_configured_lifetime(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    before = utcnow()
    body = client.post(
        "/api/v1/invitations", json={"email": "t@example.com", "role": "staff"}, headers=headers
    ).json
    expires = db.session.scalar(select(Invitation.expires_at))
    assert (
        timedelta(days=7) - timedelta(minutes=1) < expires - before < timedelta(days=7, minutes=1)
    )
    assert body["status"] == "pending"
