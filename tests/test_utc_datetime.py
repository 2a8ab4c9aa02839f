"""One timezone-aware UTC column type (agency.db.UTCDateTime), on either test backend.

On the embedded backend (SQLite) these are the demo's database: SQLite hands back naive
datetimes, and a naive/aware comparison used to answer 500 on the Members page, the accept
link and ``POST /api/v1/invitations/accept`` once an invitation existed (issue 6, finding 0).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from agency.db import Base, NaiveDatetimeError, UTCDateTime, db, utcnow
from tenants.models import ApiToken, Invitation
from tests.factories import PASSWORD, make_agency, make_client, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post


def test_every_datetime_column_uses_the_one_utc_type(app):
    others = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.c
        if _is_datetime(column.type) and not isinstance(column.type, UTCDateTime)
    ]
    assert others == []
    assert isinstance(Invitation.__table__.c.expires_at.type, UTCDateTime)


def _is_datetime(type_) -> bool:  # noqa: ANN001
    try:
        return type_.python_type is datetime
    except NotImplementedError:
        return False


def test_a_datetime_comes_back_aware_utc_and_equal(app, database_url):
    agency = make_agency()
    rome = timezone(timedelta(hours=1))
    moment = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=rome)
    token_for(owner_of(agency), agency)
    token = db.session.scalar(select(ApiToken).limit(1))
    token.last_used_at = moment
    db.session.commit()
    db.session.remove()  # read it back from the database, not the identity map

    stored = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token.id))

    assert stored == moment
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert stored.hour == 8  # 09:30 at +01:00
    # Comparing with an aware "now" is what used to raise TypeError on SQLite.
    assert stored < utcnow()


def test_a_naive_datetime_is_refused_and_nothing_is_written(app, database_url):
    agency = make_agency()
    token_for(owner_of(agency), agency)
    token = db.session.scalar(select(ApiToken).limit(1))
    token_id = token.id
    token.last_used_at = datetime(2026, 3, 1, 9, 30)  # naive: which zone? refuse to guess
    with pytest.raises(Exception) as info:
        db.session.commit()
    assert isinstance(info.value, NaiveDatetimeError) or isinstance(
        getattr(info.value, "orig", None), NaiveDatetimeError
    )
    db.session.rollback()
    db.session.remove()
    assert db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id)) is None


def test_sql_comparisons_with_aware_values_agree_with_python(app, database_url):
    agency = make_agency()
    token_for(owner_of(agency), agency)
    token = db.session.scalar(select(ApiToken).limit(1))
    # 10:00 at +02:00 is 08:00 UTC: earlier than 09:00 UTC, whatever the offset spelled.
    token.last_used_at = datetime(2026, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    db.session.commit()
    nine_utc = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    assert db.session.scalar(select(ApiToken.id).where(ApiToken.last_used_at < nine_utc))
    assert not db.session.scalar(select(ApiToken.id).where(ApiToken.last_used_at > nine_utc))
    assert db.session.scalar(text("SELECT count(*) FROM api_tokens")) == 1


def _invite(client, agency, email: str, target) -> object:  # noqa: ANN001
    data = {
        "invite-email": email,
        "invite-role": "client_manager",
        "invite-client_id": str(target.id),
    }
    return form_post(
        client, f"/a/{agency.slug}/members/invite", data, page=f"/a/{agency.slug}/members"
    )


def test_members_page_lists_a_pending_invitation_read_back_from_the_database(client, database_url):
    agency = make_agency("Aurora Social")
    target = make_client(agency, "Trattoria Bella Vista")
    AuthActions(client).login(owner_of(agency).email)

    assert _invite(client, agency, "chiara@bellavista.example", target).status_code == 302
    db.session.remove()  # every datetime below comes from the database
    page = client.get(f"/a/{agency.slug}/members")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    row = re.search(r'<tr id="invitation-[^"]+">(.*?)</tr>', html, re.S)
    assert row, html
    assert "chiara@bellavista.example" in row.group(1) and "Pending" in row.group(1)


def test_invitation_accept_link_and_api_work_after_a_read_back(client, database_url):
    agency = make_agency()
    target = make_client(agency, "Bella Vista")
    headers = bearer(token_for(owner_of(agency), agency))
    links = []
    for email in ("web@example.com", "api@example.com"):
        created = client.post(
            "/api/v1/invitations",
            json={"email": email, "role": "client_manager", "client_id": str(target.id)},
            headers=headers,
        )
        assert created.status_code == 201
        links.append(created.json["token"])
    db.session.remove()

    assert client.get(f"/invitations/{links[0]}").status_code == 200
    accepted = client.post(
        "/api/v1/invitations/accept",
        json={"token": links[1], "name": "Chiara", "password": PASSWORD},
    )
    assert accepted.status_code == 201, accepted.json
    me = client.get("/api/v1/me", headers=bearer(accepted.json["token"]))
    assert me.status_code == 200


def test_an_api_token_used_again_after_a_read_back_still_works(client, database_url):
    agency = make_agency()
    plain = token_for(owner_of(agency), agency)
    token = db.session.scalar(select(ApiToken).limit(1))
    token.last_used_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    db.session.remove()

    first = client.get("/api/v1/me", headers=bearer(plain))
    db.session.remove()
    second = client.get("/api/v1/me", headers=bearer(plain))

    assert (first.status_code, second.status_code) == (200, 200)
    used = db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token.id))
    assert utcnow() - used < timedelta(minutes=1)
