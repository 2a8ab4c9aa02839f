"""What accepting records and answers, field by field: the audit event, who accepted, the
verified address, and the exact refusals (written for the mutation run, bench/MUTATION.md).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from agency.audit import AuditEvent
from agency.db import db
from agency.team import acceptance
from tenants import service as accounts
from tenants.context import tenant_context
from tenants.models import Invitation, Membership, Role, User
from tenants.passwords import MIN_PASSWORD_LENGTH
from tests.factories import PASSWORD, make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer, csrf_from


def _invite(client, agency, email: str, role: str = "staff", client_id=None) -> str:  # noqa: ANN001
    body = {"email": email, "role": role}
    if client_id is not None:
        body["client_id"] = str(client_id)
    response = client.post(
        "/api/v1/invitations", json=body, headers=bearer(token_for(owner_of(agency), agency))
    )
    assert response.status_code == 201, response.json
    return response.json["token"]


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("via", ["web", "api"])
def test_accepting_records_who_what_and_how(client, database_url, via):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    acme_id = acme.id  # read before expire_all (RLS hides a refresh)
    token = _invite(client, agency, "new@example.com", "client_viewer", acme_id)
    if via == "web":
        browser = client.application.test_client()
        page = browser.get(f"/invitations/{token}").get_data(as_text=True)
        data = {"csrf_token": csrf_from(page), "name": "New Person", "password": PASSWORD}
        assert browser.post(f"/invitations/{token}", data=data).status_code == 302
    else:
        body = {"token": token, "name": "New Person", "password": PASSWORD}
        assert client.post("/api/v1/invitations/accept", json=body).status_code == 201

    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    invitation = db.session.scalar(select(Invitation))
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    assert invitation.accepted_by_id == user.id and invitation.accepted_at is not None
    assert user.email_verified_at is not None  # the e-mailed link reached the address
    with tenant_context(agency.id):
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "invitation.accepted")
        )
    assert (event.actor_id, event.subject_type, event.subject_id) == (
        user.id,
        "membership",
        membership.id,
    )
    assert (event.client_id, event.via, event.agency_id) == (acme_id, via, agency.id)
    assert event.data == {"role": "client_viewer", "invitation_id": str(invitation.id)}


def test_an_unverified_account_accepting_becomes_verified(client, database_url):
    home = make_agency()
    person = make_member(home, Role.STAFF, email="later@example.com")
    db.session.execute(update(User).where(User.id == person.id).values(email_verified_at=None))
    db.session.commit()
    token = _invite(client, make_agency(), "later@example.com")

    response = client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=bearer(token_for(person, home)),
    )

    assert response.status_code == 201, response.json
    db.session.expire_all()
    assert db.session.get(User, person.id).email_verified_at is not None


def test_refusals_name_the_invited_address(client, database_url):
    make_member(make_agency(), Role.STAFF, email="invitee@example.com")
    other_home = make_agency()
    other = make_member(other_home, Role.STAFF, email="other@example.com")
    token = _invite(client, make_agency(), "invitee@example.com")

    wrong_account = client.post(
        "/api/v1/invitations/accept",
        json={"token": token},
        headers=bearer(token_for(other, other_home)),
    )
    anonymous = client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "X", "password": PASSWORD}
    )

    assert wrong_account.status_code == 403
    assert wrong_account.json["message"] == (
        "This invitation is for invitee@example.com; you are signed in as another account."
    )
    assert anonymous.status_code == 401
    assert anonymous.json["message"] == (
        "invitee@example.com already has a Regia account: sign in as that account to accept."
    )


def test_a_new_account_with_a_bad_name_and_password_gets_both_messages(client, database_url):
    token = _invite(client, make_agency(), "new@example.com")
    users = _count(User)

    response = client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "", "password": "short"}
    )

    assert response.status_code == 422
    errors = response.json["errors"]["json"]
    assert errors["password"] == [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    assert len(errors["name"]) == 1 and errors["name"][0]
    assert _count(User) == users


def test_an_account_created_a_moment_ago_is_a_422_that_writes_nothing(
    client, database_url, monkeypatch
):
    token = _invite(client, make_agency(), "new@example.com")
    users, create_user = _count(User), accounts.create_user

    def racing_create_user(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        create_user(*args, **kwargs)  # the other request's account, same address
        return create_user(*args, **kwargs)

    monkeypatch.setattr(accounts, "create_user", racing_create_user)
    response = client.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "N", "password": PASSWORD}
    )

    assert response.status_code == 422
    assert response.json["errors"]["json"] == {
        "email": [
            "An account for new@example.com was created a moment ago: sign in with it, "
            "then open this invitation again."
        ]
    }
    db.session.expire_all()
    assert _count(User) == users
    assert db.session.scalar(select(Invitation.accepted_at)) is None


def test_an_inactive_account_cannot_accept_even_as_itself(client, database_url):
    # Not reachable over HTTP (sign-in refuses inactive accounts first): the service's own
    # guard, proven on its own.
    home = make_agency()
    person = make_member(home, Role.STAFF, email="gone@example.com")
    token = _invite(client, make_agency(), "gone@example.com")
    db.session.execute(update(User).where(User.id == person.id).values(active=False))
    db.session.commit()

    with pytest.raises(acceptance.SignInRequired):
        acceptance.accept_invitation(token, signed_in=db.session.get(User, person.id))
    assert db.session.scalar(select(Invitation.accepted_at)) is None


@pytest.mark.postgresql
def test_accepting_locks_the_invitation_row(client, database_url):
    # Two concurrent accepts of one link queue on this lock instead of racing to the unique
    # indexes (tests/test_races.py covers the outcome; this pins the lock itself).
    from sqlalchemy import event

    token = _invite(client, make_agency(), "new@example.com")
    seen: list[str] = []

    def capture(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ANN002
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        body = {"token": token, "name": "N", "password": PASSWORD}
        assert client.post("/api/v1/invitations/accept", json=body).status_code == 201
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    lookups = [s for s in seen if "FROM invitations" in s and "token_hash" in s]
    assert lookups and all("FOR UPDATE" in s for s in lookups), lookups


def test_the_accept_page_opens_in_the_language_of_the_invitation_mail(
    client, database_url, monkeypatch
):
    from agency.mail import service as mail_service

    sent = []
    monkeypatch.setattr(mail_service, "send_mail", lambda *args, **kwargs: sent.append(args))
    agency = make_agency()
    italian = make_client(agency, "Bellavista", language="it")
    token = _invite(client, agency, "manager@example.com", "client_manager", italian.id)
    text = sent[-1][2]
    link = next(word for word in text.split() if f"/invitations/{token}" in word)
    assert link.endswith(f"/invitations/{token}?lang=it")
    english = {"Accept-Language": "en-GB,en;q=0.9"}  # the visitor's browser says English
    page = client.get("/" + link.split("://", 1)[1].split("/", 1)[1], headers=english)
    assert page.status_code == 200 and '<html lang="it">' in page.get_data(as_text=True)
    with client.session_transaction() as session:
        session["locale"] = "en"  # a language the visitor chose wins over the e-mail's
    again = client.get(f"/invitations/{token}?lang=it", headers=english)
    assert '<html lang="en">' in again.get_data(as_text=True)


def test_password_reset_and_verification_links_carry_the_mail_language(
    app, database_url, monkeypatch
):
    from agency.accounts import service as account_mail
    from agency.mail import service as mail_service

    sent = []
    monkeypatch.setattr(mail_service, "send_mail", lambda *args, **kwargs: sent.append(args))
    person = make_member(make_agency(), Role.STAFF, email="italiana@example.com")
    db.session.execute(update(User).where(User.id == person.id).values(locale="it"))
    db.session.commit()
    with app.test_request_context("/"):
        account_mail.request_password_reset("italiana@example.com")
        account_mail.send_verification(db.session.get(User, person.id))
    links = [w for (_to, _subject, text, *_rest) in sent for w in text.split() if "://" in w]
    assert len(links) == 2 and all(link.endswith("?lang=it") for link in links), links
