"""The one-statement identity query keeps every check the step-by-step lookups made."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from agency.db import db, utcnow
from tenants.models import ApiToken, Membership, Role, User
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer, session_id_for


@pytest.fixture
def team(app, database_url):
    agency = make_agency()
    make_client(agency, "Acme")
    staff = make_member(agency, Role.STAFF)
    return agency, staff, token_for(staff, agency)


def _web(app, user):  # noqa: ANN001, ANN202
    web = app.test_client()
    with web.session_transaction() as session:
        session["_user_id"] = session_id_for(user)
    return web


def _set(model, where, **values) -> None:  # noqa: ANN001
    db.session.execute(update(model).where(where).values(**values))
    db.session.commit()


def test_live_token_and_session_are_let_in(app, client, team):
    agency, staff, token = team
    assert client.get("/api/v1/clients", headers=bearer(token)).status_code == 200
    assert _web(app, staff).get(f"/a/{agency.slug}/clients/").status_code == 200


@pytest.mark.parametrize(
    "change",
    ["membership disabled", "user inactive", "token revoked", "token expired", "token of another"],
)
def test_api_refuses_what_the_identity_query_must_refuse(app, client, team, change):
    agency, staff, token = team
    if change == "membership disabled":
        _set(Membership, Membership.user_id == staff.id, active=False)
    elif change == "user inactive":
        _set(User, User.id == staff.id, active=False)
    elif change == "token revoked":
        _set(ApiToken, ApiToken.user_id == staff.id, revoked_at=utcnow())
    elif change == "token expired":
        _set(ApiToken, ApiToken.user_id == staff.id, expires_at=utcnow() - timedelta(seconds=1))
    else:
        token = token[:-2] + ("xx" if not token.endswith("xx") else "yy")
    response = client.get("/api/v1/clients", headers=bearer(token))
    assert response.status_code == 401, response.get_json()


def test_web_refuses_a_disabled_membership_and_an_old_password(app, team):
    agency, staff, _token = team
    web = _web(app, staff)
    url = f"/a/{agency.slug}/clients/"
    _set(Membership, Membership.user_id == staff.id, active=False)
    assert web.get(url).status_code == 404
    _set(Membership, Membership.user_id == staff.id, active=True)
    assert web.get(url).status_code == 200
    user = db.session.scalar(select(User).where(User.id == staff.id))
    user.password_hash = user.password_hash + "changed"  # what a password change does
    db.session.commit()
    response = web.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_member_of_one_agency_gets_404_on_another(app, team):
    _agency, staff, _token = team
    other = make_agency()
    make_client(other, "Their client")
    assert _web(app, staff).get(f"/a/{other.slug}/clients/").status_code == 404
    assert _web(app, owner_of(other)).get(f"/a/{_agency.slug}/clients/").status_code == 404
