"""An agency with more clients than a page of them: the posts list and the calendar still
name every post's client and show its time in that client's zone.

They used to read clients from the first 100 by name: Bellavista, the 101st here, lost its
name in the posts list, its time zone (its times showed in the agency's), its place in both
client filters and in the posts list's "New post" choice.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agency.db import db
from tenants.context import tenant_context
from tenants.models import ClientCompany
from tests.content_helpers import draft, make_desk
from tests.helpers import page_as

LA = "America/Los_Angeles"
SCHEDULED = "2031-06-01T16:30:00+00:00"
IN_LA = "2031-06-01 09:30"  # SCHEDULED on a Los Angeles wall clock (UTC-7 in June)
IN_ROME = "2031-06-01 18:30"  # ... and on the agency's (Europe/Rome, UTC+2)
EARLIER_CLIENTS = 100  # named "Aaa …": all sorted before Bellavista


@pytest.fixture
def desk(client):
    desk = make_desk()
    with tenant_context(desk.ids["agency"]):
        desk.client.timezone = LA
        desk.agency.timezone = "Europe/Rome"
        db.session.add_all(
            ClientCompany(name=f"Aaa {n:03d}", timezone="Asia/Tokyo")
            for n in range(EARLIER_CLIENTS)
        )
        db.session.commit()
    draft(client, desk, body="Summer menu is here", scheduled_at=SCHEDULED)
    return desk


def _selects(html: str, name: str) -> list[list[str]]:
    """The option texts of each ``<select name=name>`` of the page."""
    found = re.findall(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert found, name
    return [re.findall(r"<option[^>]*>([^<]*)</option>", one) for one in found]


def test_posts_list_names_the_101st_client_and_shows_its_zone(app, desk):
    html = page_as(app, desk.users["owner"], f"/a/{desk.agency.slug}/posts/")
    row = re.search(r"<tr>(?:(?!</tr>).)*Summer menu is here.*?</tr>", html, re.S)
    assert row, "the post's row"
    assert "Bellavista" in row.group(0)
    assert IN_LA in row.group(0) and IN_ROME not in row.group(0)
    new_post, list_filter = _selects(html, "client_id")
    assert len(new_post) == EARLIER_CLIENTS + 2 and "Bellavista" in new_post
    assert len(list_filter) == EARLIER_CLIENTS + 2 + 1 and "Bellavista" in list_filter


def test_calendar_filters_by_the_101st_client_in_its_zone(app, desk):
    path = f"/a/{desk.agency.slug}/posts/calendar?date=2031-06-01&client_id={desk.ids['client']}"
    html = page_as(app, desk.users["owner"], path)
    (choices,) = _selects(html, "client_id")
    assert "Bellavista" in choices
    assert re.search(r'<option value="' + desk.ids["client"] + '" selected', html)
    assert "09:30" in html and "Summer menu is here" in html
    assert "18:30" not in html


def test_agency_zone_is_checked_against_the_fixture():
    """The expected texts above, computed without the code under test."""
    moment = datetime.fromisoformat(SCHEDULED)
    assert moment.astimezone(ZoneInfo(LA)).strftime("%Y-%m-%d %H:%M") == IN_LA
    assert moment.astimezone(ZoneInfo("Europe/Rome")).strftime("%Y-%m-%d %H:%M") == IN_ROME
