"""Invitation lookups and refusals, pinned by behaviour (each kills a mutmut survivor).

An id names exactly one invitation of the caller's agency; a used or revoked one cannot be
resent or revoked again; a manager cannot touch an owner's invitation; every unusable link
(unknown, over-long, used, revoked, expired) answers 410 and says why.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from agency.db import db, utcnow
from agency.errors import NotFound
from agency.team import invitations
from tenants.models import Invitation, Role
from tenants.service import load_access
from tests.factories import PASSWORD, make_agency, make_member, owner_of, token_for
from tests.helpers import bearer


@pytest.fixture
def owner_api(app, database_url):
    agency = make_agency("Lookup Agency")
    headers = bearer(token_for(owner_of(agency), agency))
    return agency, headers, app.test_client()


def _invite(client, headers, email: str, role: str = "staff") -> dict:
    response = client.post(
        "/api/v1/invitations", json={"email": email, "role": role}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _revoked(invitation_id: str) -> bool:
    db.session.expire_all()
    return db.session.get(Invitation, uuid.UUID(invitation_id)).revoked_at is not None


def test_revoke_acts_on_the_named_invitation_only(owner_api):
    _agency, headers, client = owner_api
    first, second = (
        _invite(client, headers, "one@example.com"),
        _invite(client, headers, "two@example.com"),
    )
    assert (
        client.post(f"/api/v1/invitations/{second['id']}/revoke", headers=headers).status_code
        == 200
    )
    assert _revoked(second["id"]) and not _revoked(first["id"])


def test_another_agencys_invitation_is_not_found(owner_api):
    _agency, headers, client = owner_api
    mine = _invite(client, headers, "mine@example.com")
    other = make_agency("Other Agency")
    other_headers = bearer(token_for(owner_of(other), other))
    _invite(client, other_headers, "theirs@example.com")  # B has one too: the id must match
    response = client.post(f"/api/v1/invitations/{mine['id']}/revoke", headers=other_headers)
    assert response.status_code == 404
    assert response.get_json()["message"] == "No such invitation."
    assert not _revoked(mine["id"])
    with pytest.raises(NotFound, match=r"^No such invitation\.$"):
        invitations.get_invitation(load_access(owner_of(other), other), "not-a-uuid")


def test_a_used_or_revoked_invitation_cannot_be_resent_or_revoked_again(owner_api):
    _agency, headers, client = owner_api
    sent = _invite(client, headers, "gone@example.com")
    assert (
        client.post(f"/api/v1/invitations/{sent['id']}/revoke", headers=headers).status_code == 200
    )
    for action in ("resend", "revoke"):
        response = client.post(f"/api/v1/invitations/{sent['id']}/{action}", headers=headers)
        assert response.status_code == 400, action
        assert response.get_json()["message"] == "This invitation was already used or revoked."
    accepted = _invite(client, headers, "taken@example.com")
    joined = client.post(
        "/api/v1/invitations/accept",
        json={"token": accepted["token"], "name": "Taken", "password": PASSWORD},
    )
    assert joined.status_code == 201
    response = client.post(f"/api/v1/invitations/{accepted['id']}/resend", headers=headers)
    assert response.get_json()["message"] == "This invitation was already used or revoked."


def test_a_manager_cannot_touch_an_owners_invitation(owner_api):
    agency, headers, client = owner_api
    sent = _invite(client, headers, "co-owner@example.com", role="owner")
    manager = make_member(agency, Role.MANAGER)
    response = client.post(
        f"/api/v1/invitations/{sent['id']}/revoke", headers=bearer(token_for(manager, agency))
    )
    assert response.status_code == 403
    assert response.get_json()["message"] == "Your role cannot manage this invitation."
    assert not _revoked(sent["id"])


def test_every_unusable_link_answers_410_and_says_why(owner_api):
    _agency, headers, client = owner_api

    def accept(token: str):  # noqa: ANN202
        body = {"token": token, "name": "X", "password": PASSWORD}
        return client.post("/api/v1/invitations/accept", json=body)

    used = _invite(client, headers, "used@example.com")
    assert accept(used["token"]).status_code == 201
    revoked = _invite(client, headers, "revoked@example.com")
    client.post(f"/api/v1/invitations/{revoked['id']}/revoke", headers=headers)
    expired = _invite(client, headers, "expired@example.com")
    db.session.get(Invitation, uuid.UUID(expired["id"])).expires_at = utcnow() - timedelta(
        seconds=1
    )
    db.session.commit()
    cases = {
        used["token"]: "This invitation has already been used.",
        revoked["token"]: "This invitation has been withdrawn.",
        expired["token"]: "This invitation has expired. Ask for a new one.",
        "unknown-token": "This invitation link is not valid.",
    }
    for token, message in cases.items():
        response = accept(token)
        assert response.status_code == 410, token[:20]
        assert response.get_json()["message"] == message
    # Too long for the API's schema; the web link page still says the link is not valid.
    page = client.get(f"/invitations/{'x' * 201}")
    assert page.status_code == 410
    assert "This invitation link is not valid." in page.get_data(as_text=True)
