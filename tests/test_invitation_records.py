"""Invitation refusals and audit records, exactly (written for the mutation run,
bench/MUTATION.md): the duplicate-invitation message and the channel (web or api) recorded
for resends and revocations made in the browser.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.db import db, utcnow
from tenants.context import tenant_context
from tenants.models import Invitation
from tests.factories import make_agency, make_client, make_user, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post

DAY = timedelta(days=1)


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


def _stored_invitation(agency, email, *, client=None, expires_in=DAY, **fields):  # noqa: ANN001, ANN202
    now = utcnow()
    with tenant_context(agency.id):
        values = {
            "agency_id": agency.id,
            "email": email,
            "role": "client_viewer" if client else "staff",
            "client_id": client.id if client else None,
            "assigned_client_ids": [],
            "token_hash": secrets.token_hex(32),
            "expires_at": now + expires_in,
            "last_sent_at": now,
            "send_count": 1,
        }
        invitation = Invitation(**{**values, **fields})
        db.session.add(invitation)
        db.session.commit()
        return invitation.id


def test_pending_invitations_are_this_agencys_open_ones_newest_first_and_at_most_200(
    client, database_url
):
    # Written for the mutation run: pending_invitations 4-10, 13, 14 (the agency, accepted and
    # revoked conditions, the order and the limit). Expired ones are still pending.
    agency = make_agency()
    elsewhere = make_agency()
    start = utcnow() - timedelta(days=1)
    for i in range(201):
        created = start + timedelta(minutes=i)
        _stored_invitation(agency, f"p{i:03}@example.com", created_at=created, expires_in=-DAY)
    later = {"created_at": start + timedelta(hours=12)}
    _stored_invitation(agency, "accepted@example.com", accepted_at=utcnow(), **later)
    _stored_invitation(agency, "revoked@example.com", revoked_at=utcnow(), **later)
    _stored_invitation(elsewhere, "elsewhere@example.com", **later)

    listed = client.get("/api/v1/invitations", headers=bearer(token_for(owner_of(agency), agency)))

    assert listed.status_code == 200
    items = listed.json["items"]
    assert [i["email"] for i in items] == [f"p{i:03}@example.com" for i in range(200, 0, -1)]
    assert {i["status"] for i in items} == {"expired"}


def test_a_new_invitation_closes_only_the_expired_one_it_replaces(client, database_url):
    # Written for the mutation run: _close_expired 10-14 (each condition dropped).
    agency = make_agency()
    elsewhere = make_agency()
    shop = make_client(agency, "Shop")
    long_ago = utcnow() - timedelta(days=30)
    email = "back@example.com"
    replaced = _stored_invitation(agency, email, expires_in=-DAY)
    kept = {
        "other agency": _stored_invitation(elsewhere, email, expires_in=-DAY),
        "other address": _stored_invitation(agency, "else@example.com", expires_in=-DAY),
        "client invitation": _stored_invitation(agency, email, client=shop, expires_in=-DAY),
        "accepted": _stored_invitation(agency, email, expires_in=-DAY, accepted_at=long_ago),
        "revoked": _stored_invitation(agency, email, expires_in=-DAY, revoked_at=long_ago),
    }
    before = utcnow()

    sent = client.post(
        "/api/v1/invitations",
        json={"email": email, "role": "staff"},
        headers=bearer(token_for(owner_of(agency), agency)),
    )

    assert sent.status_code == 201, sent.json
    revoked_at = {}
    for owner in (agency, elsewhere):
        with tenant_context(owner.id):
            rows = db.session.execute(
                select(Invitation.id, Invitation.revoked_at).where(Invitation.agency_id == owner.id)
            )
            revoked_at.update(rows.all())
    assert before <= revoked_at[replaced] <= utcnow()
    assert {what: revoked_at[i] for what, i in kept.items()} == {
        "other agency": None,
        "other address": None,
        "client invitation": None,
        "accepted": None,
        "revoked": long_ago,
    }
    assert revoked_at[uuid.UUID(sent.json["id"])] is None


def test_api_resend_and_revoke_are_recorded_exactly(client, database_url):
    # Written for the mutation run: resend_invitation 30-33, 37-40, 43, 44 and
    # revoke_invitation 16-19, 23-26, 29, 30 (each audit field set to None, dropped or renamed).
    agency = make_agency()
    owner = owner_of(agency)
    shop = make_client(agency, "Shop")
    headers = bearer(token_for(owner, agency))
    body = {"email": "viewer@example.com", "role": "client_viewer", "client_id": str(shop.id)}
    invitation_id = uuid.UUID(
        client.post("/api/v1/invitations", json=body, headers=headers).json["id"]
    )

    for action in ("resend", "revoke"):
        path = f"/api/v1/invitations/{invitation_id}/{action}"
        assert client.post(path, headers=headers).status_code == 200, action

    with tenant_context(agency.id):
        events = db.session.execute(
            select(
                AuditEvent.action,
                AuditEvent.via,
                AuditEvent.actor_id,
                AuditEvent.subject_type,
                AuditEvent.subject_id,
                AuditEvent.client_id,
                AuditEvent.data,
            )
            .where(AuditEvent.action != "invitation.created")
            .order_by(AuditEvent.created_at)
        ).all()
    about = ("invitation", invitation_id, shop.id, {"email": "viewer@example.com"})
    assert [tuple(e) for e in events] == [
        ("invitation.resent", "api", owner.id, *about),
        ("invitation.revoked", "api", owner.id, *about),
    ]


def test_a_resend_issues_a_32_byte_token_and_stamps_the_sending_time(app, database_url):
    # Written for the mutation run: resend_invitation 18 (33 bytes), 23 (last_sent_at None).
    from agency.team.invitations import hash_token, resend_invitation
    from tenants.service import load_access

    agency = make_agency()
    invitation_id = _stored_invitation(
        agency, "again@example.com", last_sent_at=utcnow() - timedelta(days=3)
    )
    access = load_access(owner_of(agency), agency)
    before = utcnow()
    with app.test_request_context(), tenant_context(agency.id):
        _, token = resend_invitation(access, invitation_id)
    with tenant_context(agency.id):
        stored = db.session.get(Invitation, invitation_id, populate_existing=True)
        assert (stored.token_hash, stored.send_count) == (hash_token(token), 2)
        assert before <= stored.last_sent_at <= utcnow()
    assert len(token) == 43  # secrets.token_urlsafe(32)


def test_an_invitation_is_expired_from_the_very_instant_it_expires(monkeypatch):
    # Written for the mutation run: status_of 7 (< instead of <=).
    from agency.team import invitations

    instant = utcnow()
    monkeypatch.setattr(invitations, "utcnow", lambda: instant)
    at_the_instant = Invitation(expires_at=instant, accepted_at=None, revoked_at=None)
    a_moment_later = Invitation(
        expires_at=instant + timedelta(microseconds=1), accepted_at=None, revoked_at=None
    )
    assert invitations.status_of(at_the_instant) == "expired"
    assert invitations.status_of(a_moment_later) == "pending"


def test_a_new_client_invitation_closes_only_that_clients_expired_one(client, database_url):
    # Written for the mutation run: _close_expired 20, 21, 22 (the client condition).
    agency = make_agency()
    shop, other_shop = make_client(agency, "Shop"), make_client(agency, "Other shop")
    email = "viewer@example.com"
    replaced = _stored_invitation(agency, email, client=shop, expires_in=-DAY)
    kept = [
        _stored_invitation(agency, email, client=other_shop, expires_in=-DAY),
        _stored_invitation(agency, email, expires_in=-DAY),
    ]
    body = {"email": email, "role": "client_viewer", "client_id": str(shop.id)}

    sent = client.post(
        "/api/v1/invitations", json=body, headers=bearer(token_for(owner_of(agency), agency))
    )

    assert sent.status_code == 201, sent.json
    with tenant_context(agency.id):
        revoked_at = dict(db.session.execute(select(Invitation.id, Invitation.revoked_at)).all())
    assert revoked_at[replaced] is not None
    assert [revoked_at[i] for i in kept] == [None, None]


def test_an_invitation_expiring_this_very_instant_is_replaced(client, database_url, monkeypatch):
    # Written for the mutation run: _close_expired 23 (< instead of <=: the expired invitation
    # was left open and the new one ran into the one-pending-invitation index).
    from agency.team import invitations

    agency = make_agency()
    replaced = _stored_invitation(agency, "now@example.com", expires_in=timedelta(0))
    with tenant_context(agency.id):
        expires_at = db.session.get(Invitation, replaced).expires_at
    monkeypatch.setattr(invitations, "utcnow", lambda: expires_at)

    sent = client.post(
        "/api/v1/invitations",
        json={"email": "now@example.com", "role": "staff"},
        headers=bearer(token_for(owner_of(agency), agency)),
    )

    assert sent.status_code == 201, sent.json
    with tenant_context(agency.id):
        closed = db.session.get(Invitation, replaced, populate_existing=True)
        assert closed.revoked_at == expires_at


def test_the_invitation_mail_speaks_the_language_of_an_existing_account(app, database_url):
    # Written for the mutation run: mail_locale 1, 2 (the account not looked up).
    from agency.team.invitations import mail_locale

    agency = make_agency()
    user = make_user("italiana@example.com")
    with tenant_context(agency.id):
        db.session.get(type(user), user.id).locale = "it"
        db.session.commit()
    invitation_id = _stored_invitation(agency, "italiana@example.com")
    with app.app_context(), tenant_context(agency.id):
        assert mail_locale(db.session.get(Invitation, invitation_id)) == "it"


def test_a_client_invitation_mail_names_that_client_and_knows_the_existing_account(
    smtp, database_url
):
    # Written for the mutation run: _email_invitation 2, 3 (the account not looked up), 5-11
    # (the client's name not looked up, or another client's), 18-20, 23, 28-30, 33 (the
    # inviter, role, client and account not passed to the template).
    agency = make_agency("Studio")
    make_client(agency, "Other shop")
    shop = make_client(agency, "Shop")
    make_user("known@example.com")
    body = {"email": "known@example.com", "role": "client_viewer", "client_id": str(shop.id)}

    sent = smtp.client.post(
        "/api/v1/invitations", json=body, headers=bearer(token_for(owner_of(agency), agency))
    )

    assert sent.status_code == 201, sent.json
    (message,) = smtp.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert message["Subject"] == "Studio invites you to review Shop content on Regia"
    assert "Open this link and sign in with your Regia password to accept:" in text
    assert "Other shop" not in text
    inviter = owner_of(agency).name
    assert f"{inviter} of Studio invites you as Client viewer for Shop." in text.splitlines()


def _invite(agency, user=None, **kwargs):  # noqa: ANN001, ANN003, ANN202
    """``create_invitation`` as ``user`` (default: the owner), straight through the service."""
    from agency.team import invitations
    from tenants.service import load_access

    with tenant_context(agency.id):
        access = load_access(user or owner_of(agency), agency)
        kwargs.setdefault("role", "staff")
        email = kwargs.pop("email", "new@example.com")
        return invitations.create_invitation(access, email, **kwargs)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"email": "   "}, {"email": ["Enter an e-mail address."]}),
        ({"role": "emperor"}, {"role": ["Choose one of the roles."]}),
        (
            {"role": "client_viewer", "client_id": "MINE", "assigned_client_ids": ["MINE"]},
            {"assigned_client_ids": ["Only staff members are assigned to clients."]},
        ),
        ({"role": "client_viewer"}, {"client_id": ["Choose the client company."]}),
        (
            {"role": "client_manager", "client_id": "THEIRS"},
            {"client_id": ["Choose one of this agency's client companies."]},
        ),
        (
            {"role": "staff", "client_id": "MINE"},
            {"client_id": ["Only client roles belong to a client company."]},
        ),
        (
            {"role": "manager", "assigned_client_ids": ["MINE"]},
            {"assigned_client_ids": ["Only staff members are assigned to clients."]},
        ),
        (
            {"role": "staff", "assigned_client_ids": ["THEIRS"]},
            {"assigned_client_ids": ["Choose among this agency's client companies."]},
        ),
        ({"email": "OWNER"}, {"email": ["This person is already a member."]}),
        # A field already refused: the duplicate check is not run, so the owner's address is
        # not also reported as a member.
        (
            {"email": "OWNER", "client_id": "MINE"},
            {"client_id": ["Only client roles belong to a client company."]},
        ),
    ],
)
def test_each_invitation_refusal_names_its_field_and_exact_message_and_writes_nothing(
    app, database_url, fields, errors
):
    # Written for the mutation run (bench/mutation/mutH.md): every message and field key of
    # create_invitation, _client_fields and _refuse_duplicates.
    from agency.errors import ValidationFailed

    agency, elsewhere = make_agency(), make_agency()
    ids = {"MINE": make_client(agency).id, "THEIRS": make_client(elsewhere).id}
    swap = {"OWNER": owner_of(agency).email, **ids}
    fields = {
        k: [swap[i] for i in v] if isinstance(v, list) else swap.get(v, v)
        for k, v in fields.items()
    }

    with pytest.raises(ValidationFailed) as refused:
        _invite(agency, **fields)

    assert refused.value.errors == errors
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_a_refused_inviter_is_told_exactly_why(app, database_url):
    from agency.errors import PermissionDenied
    from tenants.models import Role
    from tests.factories import make_member

    agency = make_agency()
    manager = make_member(agency, Role.MANAGER)
    with pytest.raises(PermissionDenied) as refused:
        _invite(agency, manager, role="owner")
    assert refused.value.message == "Your role cannot invite someone as owner."

    owner = owner_of(agency)
    owner.email_verified_at = None
    db.session.commit()
    with pytest.raises(PermissionDenied) as unverified:
        _invite(agency)
    assert unverified.value.message == (
        "Verify your e-mail address before sending invitations: see your account page."
    )
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_a_new_invitation_records_its_inviter_its_sending_and_the_web_channel(app, database_url):
    agency = make_agency()
    before = utcnow()
    invitation, token = _invite(agency, email="fresh@example.com")

    with tenant_context(agency.id):
        stored = db.session.get(Invitation, invitation.id)
        via = db.session.scalar(
            select(AuditEvent.via).where(AuditEvent.action == "invitation.created")
        )
    assert stored.invited_by_id == owner_of(agency).id
    assert stored.last_sent_at is not None and stored.last_sent_at >= before
    assert (stored.send_count, via) == (1, "web")  # the web form relies on the default
    assert len(token) >= 43  # 32 random bytes, URL-safe


def test_the_invitation_audit_record_names_the_invitation_its_client_address_and_role(
    app, database_url
):
    agency = make_agency()
    client = make_client(agency)
    invitation, _token = _invite(
        agency, email="Viewer@Example.com", role="client_viewer", client_id=client.id, via="api"
    )

    with tenant_context(agency.id):
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "invitation.created")
        )
    assert (event.subject_type, event.subject_id, event.client_id, event.via) == (
        "invitation",
        invitation.id,
        client.id,
        "api",
    )
    assert event.actor_id == owner_of(agency).id
    assert event.data == {"email": "viewer@example.com", "role": "client_viewer"}


def test_a_duplicate_is_refused_as_such_before_it_counts_against_the_send_limit(
    make_app, database_url
):
    """The duplicate check runs before the rate limit: inviting an address twice says
    "resend it instead", it does not use up the recipient's sends and answer 429."""
    from agency.errors import ValidationFailed

    with make_app(invitation_recipient_rate_limit="1 per hour").app_context():
        agency = make_agency()
        _invite(agency, email="once@example.com")
        for _ in range(2):
            with pytest.raises(ValidationFailed) as refused:
                _invite(agency, email="once@example.com")
            assert refused.value.errors == {
                "email": ["This person already has a pending invitation; resend it instead."]
            }
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


def test_an_invitation_that_loses_a_race_to_the_same_address_gets_the_duplicate_message(
    app, database_url, monkeypatch
):
    """Two requests inviting one address at once both pass the duplicate check; the
    database's one-pending-invitation index refuses the second, with the same field error."""
    from agency.errors import ValidationFailed
    from agency.team import invitations

    agency = make_agency()
    _invite(agency, email="race@example.com")
    monkeypatch.setattr(invitations, "_refuse_duplicates", lambda *args: None)

    with pytest.raises(ValidationFailed) as refused:
        _invite(agency, email="race@example.com")

    assert refused.value.errors == {
        "email": ["This person already has a pending invitation; resend it instead."]
    }
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.mark.parametrize(
    "earlier",
    [
        "another agency's",
        "another address's",
        "accepted",
        "revoked",
        "expired",
        "for a client",
    ],
)
def test_only_a_live_pending_invitation_for_the_same_address_and_place_blocks_a_new_one(
    app, database_url, earlier
):
    # Written for the mutation run: each condition of _refuse_duplicates' pending query and
    # its client comparison. Each earlier invitation below is not a live duplicate.
    agency = make_agency()
    email = "again@example.com"
    if earlier == "another agency's":
        _stored_invitation(make_agency(), email)
    elif earlier == "another address's":
        _stored_invitation(agency, "someone.else@example.com")
    elif earlier == "accepted":
        _stored_invitation(agency, email, accepted_at=utcnow())
    elif earlier == "revoked":
        _stored_invitation(agency, email, revoked_at=utcnow())
    elif earlier == "expired":
        _stored_invitation(agency, email, expires_in=-DAY)
    else:
        _stored_invitation(agency, email, client=make_client(agency))

    invitation, _token = _invite(agency, email=email)

    assert invitation.id is not None and invitation.role == "staff"
