"""The calendar: scheduled posts on their local day, filters, constant queries."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from agency.db import db, utcnow
from tenants.context import tenant_context
from tests.content_helpers import Desktop, act, draft, make_desk
from tests.factories import make_policy
from tests.test_query_counts import count_statements


@pytest.fixture
def desk(app, database_url):
    return make_desk(client_approval="none", internal_review=False)


def _login(app, auth, desk, who: str):  # noqa: ANN202
    web = app.test_client()
    assert auth.__class__(web).login(desk.users[who].email).status_code == 302
    return web


def test_scheduled_post_shows_on_its_local_day(app, auth, client, desk):
    with tenant_context(desk.ids["agency"]):
        desk.client.timezone = "Asia/Tokyo"
        db.session.commit()
    when = (utcnow() + timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    post = draft(client, desk, body="Late night toot", scheduled_at=when.isoformat())
    assert act(client, desk, post["id"], "submit", "staff").get_json()["status"] == "scheduled"
    web = _login(app, auth, desk, "owner")
    tokyo_day = (when + timedelta(hours=9)).date()  # 20:00 UTC is 05:00 next day in Tokyo
    url = f"/a/{desk.agency.slug}/posts/calendar?client_id={desk.ids['client']}&date={tokyo_day}"
    html = web.get(url).get_data(as_text=True)
    day_html = html.split(f'datetime="{tokyo_day.isoformat()}"')[1].split("</section>")[0]
    assert "Late night toot" in day_html and "05:00" in day_html
    filtered = web.get(url + "&status=draft").get_data(as_text=True)
    assert "Late night toot" not in filtered


def test_calendar_costs_the_same_for_5_or_100_posts(app, auth, client, desk):
    web = _login(app, auth, desk, "owner")
    start = (utcnow() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)

    desktop = Desktop(desk)

    def grow(n: int) -> None:
        for i in range(n):
            when = start + timedelta(minutes=i)
            post = desktop.draft(body=f"P{i}", scheduled_at=when.isoformat())
            desktop.act(post["id"], "submit", "staff")

    url = f"/a/{desk.agency.slug}/posts/calendar?view=month&date={start.date()}"
    grow(5)
    web.get(url)
    with count_statements() as few:
        assert web.get(url).status_code == 200
    grow(95)
    with count_statements() as many:
        html = web.get(url).get_data(as_text=True)
    assert html.count('data-status="scheduled"') == 100
    assert len(many) == len(few), "\n".join(many)


def test_calendar_survives_dates_at_the_ends_of_time(app, auth, desk):
    web = _login(app, auth, desk, "owner")
    base = f"/a/{desk.agency.slug}/posts/calendar"
    for query in ("?view=month&date=9999-12-31", "?date=0001-01-01", "?date=nope", "?client_id=x"):
        assert web.get(base + query).status_code in (200, 302), query


def test_all_clients_calendar_shows_each_post_at_its_own_clients_time_and_day(
    app, auth, client, desk
):
    with tenant_context(desk.ids["agency"]):
        desk.agency.timezone = "Europe/Rome"
        desk.client.timezone = "Asia/Tokyo"
        desk.other_client.timezone = "Europe/Rome"
        db.session.commit()
    make_policy(desk.agency, desk.other_client, internal_review=False, client_approval="none")
    when = (utcnow() + timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    tokyo = draft(client, desk, body="Late night toot", scheduled_at=when.isoformat())
    rome = draft(
        client, desk, who="owner", body="Evening in Rome", scheduled_at=when.isoformat(),
        client_id=desk.ids["other_client"], channel_ids=[desk.ids["other_channel"]],
    )  # fmt: skip
    for post in (tokyo, rome):
        assert act(client, desk, post["id"], "submit", "owner").get_json()["status"] == "scheduled"
    tokyo_day = (when + timedelta(hours=9)).date()  # 20:00 UTC is 05:00 next day in Tokyo
    rome_day = when.date()  # 21:00 or 22:00 the same day in Rome
    web = _login(app, auth, desk, "owner")
    base = f"/a/{desk.agency.slug}/posts/calendar"

    def day(html: str, d) -> str:  # noqa: ANN001
        return html.split(f'datetime="{d.isoformat()}"')[1].split("</section>")[0]

    html = web.get(f"{base}?date={tokyo_day}").get_data(as_text=True)
    assert ">05:00 JST</span>" in day(html, tokyo_day)  # Tokyo's time, its zone named
    assert "Late night toot" in day(html, tokyo_day)
    assert "Times in Europe/Rome; a time in another client" in html
    html = web.get(f"{base}?date={rome_day}").get_data(as_text=True)
    rome_time = when.astimezone(ZoneInfo("Europe/Rome"))
    assert "Evening in Rome" in day(html, rome_day)
    assert f">{rome_time:%H:%M}</span>" in day(html, rome_day)  # the page's zone: no mark
    assert "Late night toot" not in day(html, rome_day)  # not on Rome's day, at Rome's time
    # One client's calendar is in its own zone, named once: no mark on each time.
    html = web.get(f"{base}?client_id={desk.ids['client']}&date={tokyo_day}").get_data(as_text=True)
    assert ">05:00</span>" in html and "Times in Asia/Tokyo." in html
