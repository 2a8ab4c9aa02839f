"""Issue #8, acceptance 1, in Chromium: staff drafts a post for two channels with a schedule
and submits; a manager approves internally; the client manager gets an e-mail, opens the magic
link and asks for changes; staff edits and resubmits; the manager approves again; the client
manager sees what changed and approves; the post shows as scheduled on the calendar."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.content_helpers import make_desk
from tests.e2e.conftest import LiveServer, sign_in
from tests.factories import PASSWORD

REVIEW_RE = re.compile(r"https?://[^/\s]+(/review/[A-Za-z0-9_.\-]+)")


@pytest.fixture(scope="module")
def live_server(_smtp_app):
    server = LiveServer(_smtp_app).start()
    yield server
    server.stop()


def _as(browser, live_server, email: str) -> Page:  # noqa: ANN001
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


def _review_link(sink, to: str, seen: int, timeout: float = 10.0) -> str:  # noqa: ANN001
    """The path of the newest review link e-mailed to ``to`` after the first ``seen`` mails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sink.messages[seen:]:
            if to in message.envelope_rcpt:
                body = message.get_body(preferencelist=("plain",)).get_content()
                return REVIEW_RE.search(body).group(1)
        time.sleep(0.1)
    raise AssertionError(f"no review e-mail to {to}")


def test_the_whole_approval_loop_in_a_browser(page: Page, browser, live_server, smtp_server):
    sink, _port = smtp_server
    sink.messages.clear()
    desk = make_desk()
    slug, cm_email = desk.agency.slug, desk.users["cm"].email
    staff = _as(browser, live_server, desk.users["staff"].email)

    staff.goto(f"/a/{slug}/posts/new?client_id={desk.ids['client']}")
    staff.get_by_label("Text", exact=True).fill("Summer menu: see https://example.com/menu")
    staff.get_by_label("Toots (mastodon)").check()
    staff.get_by_label("Xeet (x)").check()
    staff.get_by_label("Publish at").fill("2031-06-02T09:30")
    # The live counter counts the URL as 23 characters, as X does.
    x_box = staff.locator("[data-network=x]")
    expect(x_box.locator("[data-counter]")).to_have_text("40 / 280")
    staff.get_by_role("button", name="Save").click()
    expect(staff.locator("[data-status]")).to_have_text("Draft")
    post_url = staff.url
    staff.get_by_role("button", name="Submit for review").click()
    expect(staff.locator("[data-status]")).to_have_text("In internal review")

    manager = _as(browser, live_server, desk.users["manager"].email)
    manager.goto(post_url)
    manager.get_by_role("button", name="Approve").click()
    expect(manager.locator("[data-status]")).to_have_text("Waiting for approval")

    client_page = browser.new_context(base_url=live_server.url).new_page()
    client_page.goto(_review_link(sink, cm_email, 0))
    expect(client_page.get_by_text("Summer menu").first).to_be_visible()
    client_page.get_by_label("Comment").fill("Please add the prices")
    seen = len(sink.messages)
    client_page.get_by_role("button", name="Request changes").click()
    expect(client_page.get_by_text("Nothing awaits your approval")).to_be_visible()

    staff.goto(post_url)
    expect(staff.locator("[data-status]")).to_have_text("Changes requested")
    expect(staff.get_by_text("Please add the prices").first).to_be_visible()
    staff.get_by_role("link", name="Edit").click()
    staff.get_by_label("Text", exact=True).fill(
        "Summer menu from 18 €: see https://example.com/menu"
    )
    staff.get_by_role("button", name="Save").click()
    staff.get_by_role("button", name="Submit for review").click()
    manager.goto(post_url)
    manager.get_by_role("button", name="Approve").click()

    client_page.goto(_review_link(sink, cm_email, seen))
    client_page.get_by_text("What changed since the version you saw").click()
    # What changed, as words: the prices the client asked for are marked as added.
    expect(client_page.locator("ins").first).to_contain_text("from 18 €")
    client_page.get_by_role("button", name="Approve").click()
    expect(client_page.get_by_text("Thank you: your answer is recorded.")).to_be_visible()

    staff.goto(
        f"/a/{slug}/posts/calendar?view=month&date=2031-06-01&client_id={desk.ids['client']}"
    )
    day = staff.locator("section[aria-label='2031-06-02']")
    expect(day.locator("[data-status=scheduled]")).to_contain_text("Summer menu from 18")
