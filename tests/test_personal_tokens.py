"""Personal API tokens from the account page: shown once, stored hashed, revocable."""

import re

from sqlalchemy import select

from agency.db import db
from tenants.models import ApiToken, Role
from tests.factories import make_agency, make_member, owner_of
from tests.helpers import bearer, csrf_from, form_post


def _create(client, agency_slug: str, name: str = "Zapier"):
    return form_post(client, "/account/tokens", {"name": name, "agency": agency_slug})


def test_created_token_is_shown_once_and_works_for_its_agency(client, auth, database_url):
    agency = make_agency("Token Agency")
    owner = owner_of(agency)
    auth.login(owner.email)
    response = _create(client, agency.slug)
    assert response.status_code == 201
    token = re.search(r'id="new-token"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1)
    stored = db.session.scalar(select(ApiToken).where(ApiToken.name == "Zapier"))
    assert stored.token_hash != token and token not in stored.token_hash
    again = client.get("/account/tokens").get_data(as_text=True)
    assert token not in again and stored.prefix in again
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200 and me.json["agency"]["slug"] == agency.slug


def test_token_for_an_agency_the_user_is_not_in_is_refused(client, auth, database_url):
    mine = make_agency()
    other = make_agency()
    auth.login(owner_of(mine).email)
    response = _create(client, other.slug)
    assert response.status_code == 422
    assert db.session.scalar(select(ApiToken).where(ApiToken.name == "Zapier")) is None


def test_revoked_token_stops_working(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    html = _create(client, agency.slug).get_data(as_text=True)
    token = re.search(r'id="new-token"[^>]*>([^<]+)<', html).group(1)
    stored = db.session.scalar(select(ApiToken).where(ApiToken.name == "Zapier"))
    page = client.get("/account/tokens").get_data(as_text=True)
    response = client.post(
        f"/account/tokens/{stored.id}/revoke", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_cannot_revoke_someone_elses_token(client, auth, database_url):
    agency = make_agency()
    colleague = make_member(agency, Role.MANAGER)
    from tests.factories import token_for

    token_for(colleague, agency)
    theirs = db.session.scalar(select(ApiToken).where(ApiToken.user_id == colleague.id))
    auth.login(owner_of(agency).email)
    page = client.get("/account/tokens").get_data(as_text=True)
    response = client.post(
        f"/account/tokens/{theirs.id}/revoke", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 404
    db.session.refresh(theirs)
    assert theirs.revoked_at is None


def test_tokens_page_shows_the_authorization_header_literally(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    html = client.get("/account/tokens").get_data(as_text=True)
    assert "Authorization: Bearer &lt;token&gt;" in html
