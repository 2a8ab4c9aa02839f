"""The inbox page: manual entry, reply through the page, staff scope."""

from __future__ import annotations

import re
from html import unescape as html_unescape

import pytest

from agency.db import utcnow
from tests.content_helpers import make_desk
from tests.helpers import AuthActions, form_post


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _login(app, desk, who: str):  # noqa: ANN202
    web = app.test_client()
    assert AuthActions(web).login(desk.users[who].email).status_code == 302
    return web


def test_staff_enters_a_message_by_hand_and_drafts_the_reply(app, desk):
    web = _login(app, desk, "staff")
    url = f"/a/{desk.agency.slug}/inbox/"
    page = web.get(url).get_data(as_text=True)
    assert "Toots" in page and "Other toots" not in page  # only assigned clients' channels
    r = form_post(
        web, url, {"channel_id": desk.ids["mastodon"], "author": "@fan", "body": "Open Sunday?"}
    )
    assert r.status_code == 302
    html = web.get(url).get_data(as_text=True)
    assert "Open Sunday?" in html
    item_id = html.split('action="/a/')[1].split("/inbox/")[1].split("/reply")[0]
    r = form_post(web, f"{url}{item_id}/reply", {"body": "Yes, from 10!"}, page=url)
    assert r.status_code == 302 and "/posts/" in r.headers["Location"]
    post_page = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "Yes, from 10!" in post_page and 'data-status="in_review"' in post_page


def test_bad_manual_entry_shows_errors_and_writes_nothing(app, desk):
    web = _login(app, desk, "staff")
    url = f"/a/{desk.agency.slug}/inbox/"
    r = form_post(web, url, {"channel_id": desk.ids["other_channel"], "author": "", "body": ""})
    assert r.status_code == 422
    assert "The inbox is empty." in web.get(url).get_data(as_text=True)


def test_client_users_have_no_inbox(app, desk):
    assert _login(app, desk, "cm").get(f"/a/{desk.agency.slug}/inbox/").status_code == 403


def _item(web, desk, body: str = "Open Sunday?") -> tuple[str, str]:
    url = f"/a/{desk.agency.slug}/inbox/"
    r = form_post(web, url, {"channel_id": desk.ids["mastodon"], "author": "@fan", "body": body})
    assert r.status_code == 302
    html = web.get(url).get_data(as_text=True)
    return url, html.split('action="/a/')[1].split("/inbox/")[1].split("/reply")[0]


def test_an_empty_reply_is_a_field_error_under_the_reply_box(app, desk):
    web = _login(app, desk, "staff")
    url, item_id = _item(web, desk)
    r = form_post(web, f"{url}{item_id}/reply", {"body": "  "}, page=url)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f'id="reply-{item_id}-error">Write the reply.</div>' in html
    assert f'aria-describedby="reply-{item_id}-error"' in html
    assert "alert-danger" not in html  # no flashed dict keyed by the channel's id
    assert "Open Sunday?" in html  # the rest of the page is there
    assert f"/inbox/{item_id}/reply" in web.get(url).get_data(as_text=True)  # still unanswered


def test_a_reply_over_the_limit_keeps_the_text_and_names_the_channel(app, desk):
    web = _login(app, desk, "staff")
    url, item_id = _item(web, desk)
    text = "x" * 600
    r = form_post(web, f"{url}{item_id}/reply", {"body": text}, page=url)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f">{text}</textarea>" in html  # nothing typed is lost
    error = html.split(f'id="reply-{item_id}-error">')[1].split("</div>")[0]
    assert "the limit is 500" in error and "Toots" in error and desk.ids["mastodon"] not in error


def test_an_empty_reply_reads_in_italian(app, desk):
    web = _login(app, desk, "staff")
    url, item_id = _item(web, desk)
    r = form_post(
        web, f"{url}{item_id}/reply", {"body": ""}, page=url, headers={"Accept-Language": "it"}
    )
    assert r.status_code == 422 and "Scrivi la risposta." in r.get_data(as_text=True)


def test_a_link_that_is_not_a_web_address_is_refused_and_nothing_is_saved(app, desk):
    web = _login(app, desk, "staff")
    url = f"/a/{desk.agency.slug}/inbox/"
    for bad in ("not a url", "javascript:alert(1)", "www.example.com", "https://"):
        data = {"channel_id": desk.ids["mastodon"], "author": "@fan", "body": "Hi", "url": bad}
        r = form_post(web, url, data)
        html = r.get_data(as_text=True)
        assert r.status_code == 422, bad
        error = html.split('id="url-error">')[1].split("</div>")[0]
        assert error == "Enter a link starting with https:// or http://."
        assert 'value="@fan"' in html  # what was typed is still there
    assert "The inbox is empty." in web.get(url).get_data(as_text=True)
    data = {"channel_id": desk.ids["mastodon"], "author": "@fan", "body": "Hi"}
    r = form_post(web, url, {**data, "url": " https://social.example/@fan/1 "})
    assert r.status_code == 302
    assert '<a href="https://social.example/@fan/1"' in web.get(url).get_data(as_text=True)


def test_a_stored_link_that_is_not_a_web_address_is_shown_as_text(app, desk):
    from agency.content.models import InboxItem
    from agency.db import db
    from tenants.context import tenant_context

    with tenant_context(desk.agency.id):
        db.session.add(
            InboxItem(
                client_id=desk.client.id,
                channel_id=desk.mastodon.id,
                external_id="old-1",
                author="@fan",
                body="Hi",
                url="javascript:alert(1)",
                received_at=utcnow(),
            )  # fmt: skip
        )
        db.session.commit()
    html = _login(app, desk, "staff").get(f"/a/{desk.agency.slug}/inbox/").get_data(as_text=True)
    assert "javascript:alert(1)" in html and 'href="javascript' not in html


def _fill_inbox(desk, count: int) -> None:
    """``count`` items on the Mastodon channel, one a minute, the newest "Message 0"."""
    from datetime import timedelta

    from agency.content.models import InboxItem
    from agency.db import db
    from tenants.context import tenant_context

    now = utcnow()
    with tenant_context(desk.agency.id):
        db.session.add_all(
            InboxItem(
                client_id=desk.client.id,
                channel_id=desk.mastodon.id,
                external_id=f"m-{i}",
                author=f"@fan{i}",
                body=f"Message {i}",
                received_at=now - timedelta(minutes=i),
            )  # fmt: skip
            for i in range(count)
        )
        db.session.commit()


def test_a_refused_reply_on_a_later_page_comes_back_on_that_page_with_the_text(app, desk):
    from agency.content.inbox import PAGE_LIMIT

    _fill_inbox(desk, PAGE_LIMIT + 3)
    web = _login(app, desk, "staff")
    first = web.get(f"/a/{desk.agency.slug}/inbox/").get_data(as_text=True)
    [second_url] = re.findall(r'href="([^"]*/inbox/\?cursor=[^"]+)"', first)
    second_url = html_unescape(second_url)
    second = web.get(second_url).get_data(as_text=True)
    last = PAGE_LIMIT + 2  # the oldest item, on the second page only
    assert f"Message {last}<" in second and "Message 0<" not in second
    item = second.split(f"Message {last}<")[0].rsplit('id="item-', 1)[1].split('"')[0]
    # The form posts where the browser would: its own action, which keeps the page.
    [action] = re.findall(rf'action="([^"]*/inbox/{item}/reply[^"]*)"', second)
    action = html_unescape(action)
    text = "Thanks! " + "x" * 600  # over Mastodon's 500
    r = form_post(web, action.split("#")[0], {"body": text}, page=second_url)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert f">{text}</textarea>" in html  # nothing typed is lost
    error = html.split(f'id="reply-{item}-error">')[1].split("</div>")[0]
    assert "the limit is 500" in error and "Toots" in error
    assert f"Message {last}<" in html and "Message 0<" not in html  # the same page
    assert "alert-danger" not in html  # the error is by the field, not flashed at the top
    assert "cursor=" in action and action.endswith(f"#item-{item}")  # and the item in view
    assert (
        f'id="reply-{item}" aria-invalid="true" aria-describedby="reply-{item}-error" autofocus'
        in html
    )
    # An empty reply on that page: the same, and the next try keeps the page again.
    r = form_post(web, action.split("#")[0], {"body": " "}, page=second_url)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="reply-{item}-error">Write the reply.</div>' in html
    assert html_unescape(re.findall(rf'action="([^"]*/inbox/{item}/reply[^"]*)"', html)[0]) == (
        action
    )


def test_a_reply_the_policy_approves_at_once_says_it_goes_out_now(app, database_url):
    desk = make_desk(reply_policy="none")
    web = _login(app, desk, "staff")
    url, item_id = _item(web, desk)
    r = form_post(web, f"{url}{item_id}/reply", {"body": "Yes, from 10!"}, page=url)
    assert r.status_code == 302
    html = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "sent for approval" not in html and "Submitted for review." not in html
    assert "Reply drafted. Approved at once" in html and "scheduled for" in html
    assert 'data-status="scheduled"' in html
