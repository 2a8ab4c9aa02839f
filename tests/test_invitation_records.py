"""Invitation refusals and audit records, exactly (written for the mutation run,
bench/MUTATION.md): the duplicate-invitation message and the channel (web or api) recorded
for resends and revocations made in the browser.
"""

from __future__ import annotations

from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Invitation
from tests.factories import make_agency, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post


def test_inviting_an_address_with_a_pending_invitation_is_a_field_error(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {"email": "twice@example.com", "role": "staff"}
    assert client.post("/api/v1/invitations", json=body, headers=headers).status_code == 201

    again = client.post("/api/v1/invitations", json=body, headers=headers)

    assert again.status_code == 422
    assert again.json["errors"]["json"] == {
        "email": ["This person already has a pending invitation; resend it instead."]
    }
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


def test_resend_and_revoke_in_the_browser_are_recorded_as_web(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    body = {"email": "someone@example.com", "role": "staff"}
    invitation_id = client.post("/api/v1/invitations", json=body, headers=headers).json["id"]
    AuthActions(client).login(owner_of(agency).email)
    page = f"/a/{agency.slug}/members"

    for action in ("resend", "revoke"):
        path = f"/a/{agency.slug}/invitations/{invitation_id}/{action}"
        assert form_post(client, path, {}, page=page).status_code == 302

    with tenant_context(agency.id):
        recorded = dict(db.session.execute(select(AuditEvent.action, AuditEvent.via)).all())
    assert recorded == {
        "invitation.created": "api",
        "invitation.resent": "web",
        "invitation.revoked": "web",
    }
