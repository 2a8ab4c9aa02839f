"""Signing in and out through the real login form in Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, make_agency, owner_of


def test_owner_signs_in_and_lands_on_the_agency_dashboard(page: Page):
    agency = make_agency("Lanterna Digital")
    owner = owner_of(agency)

    sign_in(page, owner.email, PASSWORD)

    expect(page).to_have_url(re.compile(rf"/a/{agency.slug}/?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Lanterna Digital")
    expect(page.get_by_text(f"Signed in as {owner.name}")).to_be_visible()


def test_wrong_password_shows_an_error_and_stays_signed_out(page: Page):
    agency = make_agency("Faro Media")
    owner = owner_of(agency)

    sign_in(page, owner.email, "not the password")

    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"/a/{agency.slug}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_text("Faro Media")).to_have_count(0)


def test_owner_signs_out_from_the_user_menu(page: Page):
    agency = make_agency("Vela Social")
    owner = owner_of(agency)
    sign_in(page, owner.email, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Vela Social")

    page.get_by_role("button", name=owner.name).or_(
        page.get_by_role("link", name=owner.name)
    ).click()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()  # the menu has opened
    sign_out.click()

    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"/a/{agency.slug}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
