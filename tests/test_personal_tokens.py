"""Personal API tokens from the account page: shown once, stored hashed, revocable."""

import re

from sqlalchemy import select

from agency.db import db
from tenants.models import ApiToken, Role
from tests.factories import make_agency, make_member, owner_of, token_for
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


# --- the service's own rules (the form's choices and validators catch most input first) ----


def _token_row(user, agency, name: str, **fields) -> ApiToken:
    from tenants import service

    service.issue_token(user, agency, name=name)
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == name))
    for key, value in fields.items():
        setattr(row, key, value)
    db.session.commit()
    return row


def test_the_token_list_holds_only_this_users_live_tokens_newest_first(app, database_url):
    from datetime import timedelta

    from agency.db import utcnow
    from tenants import service

    agency = make_agency()
    owner = owner_of(agency)
    colleague = make_member(agency, Role.MANAGER)
    now = utcnow()
    # Inserted oldest first, so a listing without its ORDER BY comes out in the wrong order.
    _token_row(owner, agency, "Older", created_at=now - timedelta(hours=2))
    _token_row(owner, agency, "Newer", created_at=now - timedelta(hours=1))
    _token_row(owner, agency, "Revoked", revoked_at=now - timedelta(minutes=5))
    _token_row(colleague, agency, "Colleague's")

    assert [t.name for t in service.tokens_of(owner)] == ["Newer", "Older"]
    assert [t.name for t in service.tokens_of(colleague)] == ["Colleague's"]


def test_revoking_a_token_revokes_that_one_only_and_only_once(app, database_url):
    from datetime import timedelta

    from agency.db import utcnow
    from tenants import service

    agency = make_agency()
    owner = owner_of(agency)
    earlier = utcnow() - timedelta(days=1)
    first = _token_row(owner, agency, "First")
    second = _token_row(owner, agency, "Second")
    gone = _token_row(owner, agency, "Gone", revoked_at=earlier)

    assert service.revoke_token(owner, second.id) is True
    assert service.revoke_token(owner, gone.id) is False
    db.session.expire_all()
    assert db.session.get(ApiToken, first.id).revoked_at is None
    assert db.session.get(ApiToken, second.id).revoked_at is not None
    assert db.session.get(ApiToken, gone.id).revoked_at == earlier


def test_revoking_all_tokens_touches_only_this_users_live_ones_and_counts_them(app, database_url):
    from datetime import timedelta

    from agency.db import utcnow
    from tenants import service

    agency = make_agency()
    owner = owner_of(agency)
    colleague = make_member(agency, Role.MANAGER)
    earlier = utcnow() - timedelta(days=1)
    live = [_token_row(owner, agency, "One"), _token_row(owner, agency, "Two")]
    gone = _token_row(owner, agency, "Gone", revoked_at=earlier)
    theirs = _token_row(colleague, agency, "Theirs")

    assert service.revoke_all_tokens(owner) == 2
    db.session.commit()
    db.session.expire_all()
    assert all(db.session.get(ApiToken, t.id).revoked_at is not None for t in live)
    assert db.session.get(ApiToken, gone.id).revoked_at == earlier
    assert db.session.get(ApiToken, theirs.id).revoked_at is None
    assert service.revoke_all_tokens(owner) == 0


def test_the_service_refuses_a_bad_token_request_naming_each_field(app, database_url):
    from datetime import timedelta

    import pytest

    from agency.db import utcnow
    from agency.errors import ValidationFailed
    from tenants import service

    mine = make_agency()
    other = make_agency()
    owner = owner_of(mine)
    past = utcnow() - timedelta(minutes=1)
    with app.test_request_context():
        with pytest.raises(ValidationFailed) as refused:
            service.create_personal_token(owner, other.slug, "x" * 101, expires_at=past)
        assert refused.value.errors == {
            "expires_at": ["The expiry must be in the future."],
            "agency": ["Choose one of your agencies."],
            "name": ["Use at most 100 characters."],
        }
        for slug in (other.slug, "", None, "no-such-agency"):
            with pytest.raises(ValidationFailed) as refused:
                service.create_personal_token(owner, slug, "Zapier")
            assert refused.value.errors == {"agency": ["Choose one of your agencies."]}, slug
        with pytest.raises(ValidationFailed) as refused:
            service.create_personal_token(owner, mine.slug, "Zapier", expires_at=past)
        assert refused.value.errors == {"expires_at": ["The expiry must be in the future."]}
        assert db.session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)).all() == []

        later = utcnow() + timedelta(days=7)
        plain = service.create_personal_token(owner, mine.slug, " " + "x" * 100, expires_at=later)
    [stored] = db.session.scalars(select(ApiToken).where(ApiToken.user_id == owner.id)).all()
    assert (stored.name, stored.agency_id, stored.expires_at) == ("x" * 100, mine.id, later)
    assert stored.prefix == plain[:10]


def test_resolving_a_token_refuses_revoked_inactive_and_expired_ones(
    app, database_url, monkeypatch
):
    # The invitation-accept API resolves the caller's own bearer token with this function.
    from datetime import UTC, datetime, timedelta

    from tenants import service

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    agency = make_agency()
    owner, colleague = owner_of(agency), make_member(agency, Role.MANAGER)
    revoked = token_for(owner, agency)
    service.revoke_all_tokens(owner)
    db.session.commit()
    live = token_for(owner, agency)
    expiring = token_for(owner, agency)
    inactive = token_for(colleague, agency)
    colleague.active = False
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == expiring[:10]))
    row.expires_at = now
    db.session.commit()
    monkeypatch.setattr(service, "utcnow", lambda: now)  # a still clock: expiry is exact

    assert service.resolve_token(live).user_id == owner.id
    assert service.resolve_token(revoked) is None
    assert service.resolve_token(inactive) is None
    assert service.resolve_token(expiring) is None  # expires at this very instant
    row.expires_at = now + timedelta(microseconds=1)
    db.session.commit()
    assert service.resolve_token(expiring).id == row.id


def test_a_tokens_last_use_is_written_at_most_once_a_minute(client, database_url, monkeypatch):
    from datetime import UTC, datetime, timedelta

    from tenants import web

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(web, "utcnow", lambda: now)  # a still clock: the minute is exact
    agency = make_agency()
    plain = token_for(owner_of(agency), agency)
    row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == plain[:10]))
    minute, tick = timedelta(seconds=60), timedelta(microseconds=1)
    for last_used, written in (
        (None, now),
        (now - minute, now - minute),
        (now - minute - tick, now),
    ):
        row.last_used_at = last_used
        db.session.commit()
        assert client.get("/api/v1/me", headers=bearer(plain)).status_code == 200
        db.session.expire_all()
        assert db.session.get(ApiToken, row.id).last_used_at == written, last_used
