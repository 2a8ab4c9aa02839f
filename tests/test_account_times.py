"""Times on the account and team pages and in their e-mails are in the agency's zone.

They used to be UTC: "(UTC)" in the invitation and password-reset e-mails, "… UTC" in the
pending invitations table, and the tokens page in Babel's US format at UTC with no zone.
The agency here is in Tokyo (UTC+9, no daylight saving): a UTC time is nine hours off.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from agency.db import db, utcnow
from tenants.context import tenant_context
from tenants.models import ApiToken, Invitation, Role
from tests.factories import make_agency, make_member, owner_of, token_for
from tests.helpers import bearer, form_post, page_as

TOKYO = "Asia/Tokyo"


def _tokyo(moment: datetime) -> str:
    """The expected text, computed without the code under test (naive: UTC)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(TOKYO)).strftime("%Y-%m-%d %H:%M JST")


def _tokyo_agency():  # noqa: ANN202
    agency = make_agency()
    agency.timezone = TOKYO
    db.session.commit()
    return agency


def _bodies(message) -> list[str]:  # noqa: ANN001
    return [message.get_body(preferencelist=(kind,)).get_content() for kind in ("plain", "html")]


def test_the_invitation_mail_and_the_pending_list_say_when_it_expires_in_the_agencys_zone(
    smtp, database_url
):
    agency = _tokyo_agency()
    owner = owner_of(agency)
    body = {"email": "newcomer@example.com", "role": "staff"}
    headers = bearer(token_for(owner, agency))
    assert smtp.client.post("/api/v1/invitations", json=body, headers=headers).status_code == 201
    with tenant_context(agency.id):
        expires = db.session.scalar(select(Invitation.expires_at))

    (mail,) = [m for m in smtp.messages if m["To"] == "newcomer@example.com"]
    for text in _bodies(mail):
        assert f"expires on {_tokyo(expires)}." in text
        assert "UTC" not in text
    members = page_as(smtp.app, owner, f"/a/{agency.slug}/members")
    assert _tokyo(expires) in members
    assert not re.search(r"\d\d:\d\d UTC", members)


def test_the_password_reset_mail_says_when_it_expires_in_the_users_agencys_zone(smtp, database_url):
    user = make_member(_tokyo_agency(), Role.STAFF, email="forgetful@example.com")
    form_post(smtp.client, "/password/forgot", {"email": user.email})

    (mail,) = smtp.messages
    (text, html) = _bodies(mail)
    found = re.search(r"expires on (\d{4}-\d\d-\d\d \d\d:\d\d) JST\.", text)
    assert found, text
    shown = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(TOKYO))
    assert timedelta(0) < shown - utcnow() <= timedelta(days=1)  # Tokyo's wall clock, not UTC
    assert f"expires on {found.group(1)} JST." in html


def test_the_tokens_page_shows_times_in_the_tokens_agencys_zone(client, database_url):
    agency = _tokyo_agency()
    owner = owner_of(agency)
    token_for(owner, agency)
    moment = datetime(2031, 6, 1, 16, 30, tzinfo=ZoneInfo("UTC"))
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == owner.id))
    token.expires_at = moment
    token.last_used_at = moment - timedelta(days=1)
    db.session.commit()

    page = page_as(client.application, owner, "/account/tokens")

    assert "2031-06-02 01:30 JST" in page  # expires
    assert "2031-06-01 01:30 JST" in page  # last used
    assert _tokyo(moment) == "2031-06-02 01:30 JST"
