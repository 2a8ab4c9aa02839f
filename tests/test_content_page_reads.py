"""The queue, calendar and dashboard pages read only what they show (bench/pages.py's pages):
one row a post from posts + revisions, no targets, channels, counts or previews; and what
they show is unchanged (the calendar's channel filter, each role's queue)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agency.db import utcnow
from tests.content_helpers import act, draft, make_desk
from tests.test_query_counts import count_statements


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _login(app, auth, desk, who: str):  # noqa: ANN202
    web = app.test_client()
    assert auth.__class__(web).login(desk.users[who].email).status_code == 302
    return web


def _scheduled(client, desk, body: str, channels: list[str], hours: int = 30) -> dict:
    when = (utcnow() + timedelta(hours=hours)).replace(second=0, microsecond=0)
    return draft(client, desk, body=body, channel_ids=channels, scheduled_at=when.isoformat())


def test_calendar_channel_filter_shows_only_posts_on_that_channel(app, auth, client, desk):
    _scheduled(client, desk, "Only on toots", [desk.ids["mastodon"]])
    _scheduled(client, desk, "Only on xeet", [desk.ids["x"]])
    _scheduled(client, desk, "On both", [desk.ids["mastodon"], desk.ids["x"]])
    web = _login(app, auth, desk, "owner")
    day = (utcnow() + timedelta(hours=30)).date().isoformat()
    base = f"/a/{desk.agency.slug}/posts/calendar?date={day}&client_id={desk.ids['client']}"
    everything = web.get(base).get_data(as_text=True)
    assert all(body in everything for body in ("Only on toots", "Only on xeet", "On both"))
    toots = web.get(base + f"&channel_id={desk.ids['mastodon']}").get_data(as_text=True)
    assert "Only on toots" in toots and "On both" in toots and "Only on xeet" not in toots
    xeets = web.get(base + f"&channel_id={desk.ids['x']}").get_data(as_text=True)
    assert "Only on xeet" in xeets and "On both" in xeets and "Only on toots" not in xeets
    # Another client's channel matches none of this agency's other posts.
    other = web.get(base + f"&channel_id={desk.ids['other_channel']}").get_data(as_text=True)
    assert "Only on" not in other and "On both" not in other


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("manager", "/a/{slug}/posts/queue"),
        ("cm", "/a/{slug}/posts/queue"),
        ("owner", "/a/{slug}/posts/calendar?date={day}"),
        ("owner", "/a/{slug}/posts/calendar?view=month&date={day}"),
        ("staff", "/a/{slug}/posts/calendar?date={day}"),
        ("cm", "/a/{slug}/posts/calendar?date={day}"),
        ("owner", "/a/{slug}/"),  # the client portal's home names each post's channels
    ],
)
def test_list_pages_load_no_targets_or_channels(app, auth, client, desk, who, path):
    for i in range(3):
        post = _scheduled(client, desk, f"page-read-{i}", [desk.ids["mastodon"], desk.ids["x"]])
        act(client, desk, post["id"], "submit", "staff")
        if i:
            act(client, desk, post["id"], "approve", "manager")  # now awaiting the client
    web = _login(app, auth, desk, who)
    day = (utcnow() + timedelta(hours=30)).date().isoformat()
    url = path.format(slug=desk.agency.slug, day=day)
    web.get(url)
    with count_statements() as statements:
        response = web.get(url)
    assert response.status_code == 200
    assert "page-read-" in response.get_data(as_text=True), "the page shows the posts"
    reads = [s for s in statements if "post_targets" in s or "FROM channels" in s]
    assert not reads, "\n\n".join(reads)


def test_queue_checkboxes_carry_the_revision_and_the_form_its_csrf_field(app, auth, client, desk):
    post = _scheduled(client, desk, "queue-row", [desk.ids["mastodon"]])
    act(client, desk, post["id"], "submit", "staff")
    web = _login(app, auth, desk, "manager")
    html = web.get(f"/a/{desk.agency.slug}/posts/queue").get_data(as_text=True)
    assert f'value="{post["id"]}:{post["revision"]}"' in html
    assert f'href="/a/{desk.agency.slug}/posts/{post["id"]}"' in html
    assert '<input id="csrf_token" name="csrf_token" type="hidden" value="' in html
