"""Issue #9, acceptance 7, in Chromium: a manager connects a Mastodon account with OAuth
against a loopback instance — types the server address, is sent to the instance's consent
page, authorizes, comes back — and the channel shows "Connected" as the account."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from agency import crypto
from agency.channels.models import Channel
from agency.db import db
from tenants.context import tenant_context
from tests import test_channel_connect as connect_tests
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, make_agency, make_client, owner_of

# The loopback Mastodon and REGIA_ALLOW_PRIVATE_HOSTS fixtures, shared with that module.
mastodon = connect_tests.mastodon
private_hosts = connect_tests.private_hosts


def test_manager_connects_mastodon_with_oauth_in_the_browser(page: Page, live_server, mastodon):
    agency = make_agency("Aurora Social")
    client = make_client(agency, "Northwind Outdoor")
    owner = owner_of(agency)
    sign_in(page, owner.email, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Aurora Social")

    page.goto(f"/a/{agency.slug}/clients/{client.id}/channels/new?network=mastodon")
    expect(page.get_by_label("Server address")).to_be_visible()  # labelled, not instance_url
    page.get_by_role("link", name="Connect with Mastodon").click()
    page.get_by_label("Server address").fill(mastodon.url)
    page.get_by_label("Display name").fill("Northwind on Mastodon")
    page.get_by_role("button", name="Continue").click()

    page.get_by_role("link", name=re.compile("Continue to")).click()
    expect(page.get_by_role("heading", name="Authorization required")).to_be_visible()
    assert page.url.startswith(mastodon.url + "/oauth/authorize?")
    page.get_by_role("button", name="Authorize").click()

    expect(page.locator(".alert-success")).to_contain_text(
        "Connected Northwind on Mastodon as @acme@"
    )
    row = page.locator("#channel-table tbody tr", has_text="Northwind on Mastodon")
    expect(row).to_contain_text("Connected")
    expect(row).to_contain_text("Acme Coffee")
    expect(row).to_contain_text(re.compile(r"Checked \d{4}-\d\d-\d\d \d\d:\d\d UTC"))
    with tenant_context(agency.id):
        channel = db.session.scalar(select(Channel))
        token = crypto.decrypt_json(channel.credentials_encrypted)["access_token"]
    assert token in mastodon.tokens
    expect(page.get_by_text(token)).to_have_count(0)
