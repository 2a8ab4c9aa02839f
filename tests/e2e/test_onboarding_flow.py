"""Issue #3, acceptance 1, in Chromium: an owner onboards an Italian client (details, channel,
approval policy), invites a client manager; the e-mail arrives at the local SMTP server; the
client manager opens the link, sets a password, signs in and sees only their company."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, sign_in
from tests.factories import PASSWORD, make_agency, make_client, owner_of

LINK_RE = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_\-]+)")


@pytest.fixture(scope="module")
def live_server(_smtp_app):
    """This module's browser talks to the app that sends mail to the local SMTP server."""
    server = LiveServer(_smtp_app).start()
    yield server
    server.stop()


def _wait_for_mail(sink, to: str, timeout: float = 10.0):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in sink.messages:
            if to in message.envelope_rcpt:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no e-mail to {to} arrived at the SMTP server")


def test_owner_onboards_a_client_and_its_manager_sees_only_their_company(
    page: Page, browser, live_server, smtp_server, networks_not_checked
):
    """(The channel's server is not asked: verification has its own browser test,
    tests/e2e/test_channel_connect_mastodon.py.)"""
    sink, _port = smtp_server
    sink.messages.clear()
    agency = make_agency("Aurora Social")
    make_client(agency, "Northwind Outdoor")  # another client the invitee must never see
    owner = owner_of(agency)
    sign_in(page, owner.email, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Aurora Social")

    # 1. A client with Italian legal details.
    page.goto(f"/a/{agency.slug}/clients/new")
    page.get_by_label("Name", exact=True).fill("Trattoria Bella Vista")
    page.get_by_label("Legal name").fill("Bella Vista S.r.l.")
    page.get_by_label("Country").select_option("IT")
    page.get_by_label("VAT id").fill("IT00743110157")
    page.get_by_label("Fiscal code").fill("00743110157")
    page.get_by_label("Address").fill("Via Roma 1, 20121 Milano MI")
    page.get_by_label("Billing e-mail").fill("amministrazione@bellavista.example")
    page.get_by_label("SDI code").fill("M5UXCR1")
    page.get_by_label("Time zone").select_option("Europe/Rome")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trattoria Bella Vista")
    client_url = page.url

    # 2. A channel.
    page.get_by_role("link", name="Manage channels").click()
    page.goto(page.url.rstrip("/") + "/new?network=mastodon")
    page.get_by_label("Display name").fill("Bella Vista on Mastodon")
    page.locator("#settings-instance_url").fill("https://mastodon.example")
    page.locator("#settings-access_token").fill("e2e-secret-token")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Bella Vista on Mastodon").first).to_be_visible()
    expect(page.get_by_text("e2e-secret-token")).to_have_count(0)

    # 3. An approval policy.
    page.goto(client_url)
    page.get_by_role("link", name=re.compile("approval policy")).click()
    page.get_by_label("Client approval").select_option("any")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert-success").first).to_be_visible()

    # 4. Invite a client manager from the Members page.
    page.get_by_role("link", name="Members").click()
    page.get_by_label("E-mail").fill("chiara@bellavista.example")
    page.get_by_label("Role", exact=True).select_option("client_manager")
    page.get_by_label("Client company (client roles)").select_option(label="Trattoria Bella Vista")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Invitation sent to chiara@bellavista.example"
    )

    # 5. The e-mail arrives at the local SMTP server.
    message = _wait_for_mail(sink, "chiara@bellavista.example")
    assert "Aurora Social" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = LINK_RE.search(text)
    assert match, text

    # 6. The client manager opens the link in their own browser and sets a password.
    invitee = browser.new_context(base_url=live_server.url, locale="en-GB")
    try:
        cm = invitee.new_page()
        cm.goto(match.group(1))
        expect(cm.get_by_role("heading", level=1)).to_have_text("Join Aurora Social")
        expect(cm.get_by_text("Trattoria Bella Vista")).to_be_visible()
        cm.get_by_label("Your name").fill("Chiara Cliente")
        cm.get_by_label("Choose a password").fill("una password lunga 2026")
        # Wait for the portal to load (its scripts too), not just its heading: the user menu
        # below opens only once Bootstrap's script has run.
        with cm.expect_navigation(wait_until="load"):
            cm.get_by_role("button", name="Create my account and join").click()
        # Client users land on their own portal, headed by their company's name.
        expect(cm.get_by_role("heading", level=1)).to_have_text("Trattoria Bella Vista")

        # 7. Signs out, signs in with the new password, sees only their company.
        cm.get_by_role("button", name="Chiara Cliente").or_(
            cm.get_by_role("link", name="Chiara Cliente")
        ).click()
        sign_out = cm.get_by_role("button", name="Sign out")
        expect(sign_out).to_be_visible()  # the menu has opened
        sign_out.click()
        # The sign-out POST must have landed before signing in again, or the two race.
        expect(cm).to_have_url(re.compile(r"/login$"))
        sign_in(cm, "chiara@bellavista.example", "una password lunga 2026")
        expect(cm).to_have_url(re.compile(rf"/a/{agency.slug}/?$"))
        expect(cm.get_by_role("heading", level=1)).to_have_text("Trattoria Bella Vista")
        expect(cm.get_by_role("heading", name="Waiting for your approval")).to_be_visible()
        expect(cm.get_by_text("Northwind Outdoor")).to_have_count(0)
        expect(cm.get_by_role("link", name="Members")).to_have_count(0)
        expect(cm.get_by_role("link", name="Settings")).to_have_count(0)
        assert cm.goto(f"/a/{agency.slug}/members").status == 403
    finally:
        invitee.close()
