"""“Connect with Facebook” in Chromium against the loopback Graph fake: the manager names the
channel, is sent to the Facebook Login dialog, allows Regia, comes back, picks one of the two
Pages the account manages, and the channel shows "Connected" as that Page."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from agency import crypto
from agency.channels.models import Channel
from agency.config import OAuthApp
from agency.db import db
from tenants.context import tenant_context
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, make_agency, make_client, owner_of
from tests.fakes.facebook import FakeGraph


@pytest.fixture
def graph(app, live_server, monkeypatch):
    """The loopback Graph, registered as the operator's Meta app; callbacks to the live server."""
    fake = FakeGraph()
    fake.registered_redirects = [f"{live_server.url}/oauth/facebook/callback"]
    fake.start()
    meta = OAuthApp("facebook", fake.oauth_client_id, fake.oauth_client_secret, fake.url, fake.url)
    settings = app.config["REGIA"]
    changed = replace(
        settings,
        oauth_apps={**settings.oauth_apps, "facebook": meta},
        allow_private_hosts=True,
        base_url=live_server.url,
    )
    monkeypatch.setitem(app.config, "REGIA", changed)
    try:
        yield fake
    finally:
        fake.stop()


def test_manager_connects_a_facebook_page_in_the_browser(page: Page, graph):
    agency = make_agency("Aurora Social")
    client = make_client(agency, "Northwind Outdoor")
    pages = [
        graph.add_page("Northwind Trails", "page-token-trails-4Fv"),
        graph.add_page("Northwind Camps", "page-token-camps-8Lm"),
    ]
    graph.add_person("Robin Admin", manages=tuple(pages))
    sign_in(page, owner_of(agency).email, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Aurora Social")

    page.goto(f"/a/{agency.slug}/clients/{client.id}/channels/new?network=facebook_page")
    page.get_by_role("link", name="Connect with Facebook Page").click()
    page.get_by_label("Display name").fill("Northwind on Facebook")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name=re.compile("Continue to")).click()
    assert page.url.startswith(graph.url + "/v23.0/dialog/oauth?")
    page.get_by_role("button", name="Authorize app").click()

    expect(page.get_by_role("heading", name="Choose the account")).to_be_visible()
    page.get_by_label("Northwind Camps").check()
    page.get_by_role("button", name="Connect", exact=True).click()

    expect(page.locator(".alert-success")).to_contain_text(
        "Connected Northwind on Facebook as Northwind Camps"
    )
    row = page.locator("#channel-table tbody tr", has_text="Northwind on Facebook")
    expect(row).to_contain_text("Connected")
    with tenant_context(agency.id):
        channel = db.session.scalar(select(Channel))
        token = crypto.decrypt_json(channel.credentials_encrypted)["access_token"]
    assert channel.settings["page_id"] == pages[1]["id"] and token == "page-token-camps-8Lm"
    expect(page.get_by_text(token)).to_have_count(0)
