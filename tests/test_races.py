"""Races between real concurrent PostgreSQL transactions: the loser of each gets a clear
error (never a 500) and the database keeps one row.

Each test holds the winner's transaction open (its row inserted, not committed), starts the
loser through HTTP in a thread, waits until PostgreSQL shows the loser blocked on the
winner's lock, then commits the winner: the interleaving that unique checks in Python miss.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agency.db import db, utcnow
from tenants.models import Invitation, Membership, Role, User
from tests import pg
from tests.factories import PASSWORD, make_agency, make_user, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post

pytestmark = pytest.mark.postgresql


def _lock_waiters(database_url: str) -> int:
    database = make_url(database_url).database
    dsn = pg.ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        return admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (database,),
        ).fetchone()[0]


def race(database_url: str, commit_winner: Callable[[], None], loser: Callable[[], object]):
    """Run ``loser`` in a thread; once it waits on the winner's lock, commit the winner.

    Returns ``(blocked, outcome)``: whether the loser was seen waiting, and its return value
    or the exception it raised.
    """
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = loser()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcome["value"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    blocked, deadline = False, time.monotonic() + 10
    while not blocked and thread.is_alive() and time.monotonic() < deadline:
        blocked = _lock_waiters(database_url) > 0
        time.sleep(0.02)
    commit_winner()
    thread.join(30)
    assert not thread.is_alive(), "the loser never finished"
    return blocked, outcome.get("value")


def _pending(email: str) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(Invitation.email == email, Invitation.accepted_at.is_(None))
    )


def _winner_invitation(agency, email: str) -> Invitation:  # noqa: ANN001
    return Invitation(
        agency_id=agency.id,
        email=email,
        role=Role.MANAGER.value,
        assigned_client_ids=[],
        token_hash=f"winner-{email}",
        expires_at=utcnow() + timedelta(days=1),
        send_count=1,
    )


def test_concurrent_api_invitations_to_one_address_leave_one_and_a_field_error(
    client, database_url
):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    with Session(db.engine) as winner:
        winner.add(_winner_invitation(agency, "race@example.com"))
        winner.flush()

        blocked, response = race(
            database_url,
            winner.commit,
            lambda: client.post(
                "/api/v1/invitations",
                json={"email": "race@example.com", "role": "manager"},
                headers=headers,
            ),
        )

    assert not isinstance(response, Exception), response
    assert response.status_code == 422, response.json
    assert "pending invitation" in response.json["errors"]["json"]["email"][0]
    assert blocked
    assert _pending("race@example.com") == 1


def test_concurrent_web_invitation_shows_the_loser_a_form_error(client, database_url):
    agency = make_agency()
    AuthActions(client).login(owner_of(agency).email)
    with Session(db.engine) as winner:
        winner.add(_winner_invitation(agency, "race@example.com"))
        winner.flush()

        blocked, response = race(
            database_url,
            winner.commit,
            lambda: form_post(
                client,
                f"/a/{agency.slug}/members/invite",
                {"invite-email": "race@example.com", "invite-role": "manager"},
                page=f"/a/{agency.slug}/members",
            ),
        )

    assert not isinstance(response, Exception), response
    assert response.status_code == 422
    assert "already has a pending invitation" in response.get_data(as_text=True)
    assert blocked
    assert _pending("race@example.com") == 1


def test_concurrent_accepts_for_one_new_address_one_wins_the_other_is_told(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))
    token = client.post(
        "/api/v1/invitations", json={"email": "new@example.com", "role": "staff"}, headers=headers
    ).json["token"]
    # The winner: another invitation to the same address, accepted at the same moment.
    with Session(db.engine) as winner:
        winner.add(User(email="new@example.com", name="Other tab", password_hash="x"))
        winner.flush()

        blocked, response = race(
            database_url,
            winner.commit,
            lambda: client.post(
                "/api/v1/invitations/accept",
                json={"token": token, "name": "Nina", "password": PASSWORD},
            ),
        )

    assert not isinstance(response, Exception), response
    assert response.status_code == 422, response.json
    assert "created a moment ago" in response.json["errors"]["json"]["email"][0]
    assert blocked
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(User.email == "new@example.com")) == 1
    assert db.session.scalar(select(func.count()).where(Membership.agency_id == agency.id)) == 1
    assert _pending("new@example.com") == 1  # still usable once they sign in


def test_concurrent_agency_memberships_for_one_user_keep_one(app, database_url):
    user, agency = make_user(), make_agency()

    def membership() -> Membership:
        return Membership(user_id=user.id, agency_id=agency.id, role=Role.MANAGER.value)

    def loser() -> None:
        with Session(db.engine) as session:
            session.add(membership())
            session.commit()

    with Session(db.engine) as winner:
        winner.add(membership())
        winner.flush()
        blocked, outcome = race(database_url, winner.commit, loser)

    assert isinstance(outcome, IntegrityError), outcome
    assert "uq_memberships_agency_team" in str(outcome)
    assert blocked
    count = select(func.count()).where(
        Membership.user_id == user.id, Membership.agency_id == agency.id
    )
    assert db.session.scalar(count) == 1
