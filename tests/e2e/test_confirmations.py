"""Forms that ask before doing something irreversible (``data-confirm``) ask once.

The base template loaded ``regia.js`` twice (deferred in the head and again at the end of the
body), so every confirmation was asked twice: deleting a channel showed "Delete this
channel?" a second time after the user had said yes.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, make_agency, make_channel, make_client, owner_of


def test_deleting_a_channel_asks_once_and_a_no_keeps_it(page: Page):
    agency = make_agency("Aurora Social")
    client = make_client(agency, "Northwind Outdoor")
    make_channel(agency, client, name="Northwind Toots")
    sign_in(page, owner_of(agency).email, PASSWORD)
    page.goto(f"/a/{agency.slug}/clients/{client.id}/channels/")
    delete = page.get_by_role("button", name="Delete Northwind Toots")

    asked: list[str] = []
    answer = {"yes": False}

    def reply(dialog) -> None:  # noqa: ANN001 - playwright Dialog
        asked.append(dialog.message)
        dialog.accept() if answer["yes"] else dialog.dismiss()

    page.on("dialog", reply)
    delete.click()
    expect(delete).to_be_visible()  # "no": the channel stays
    assert asked == ["Delete this channel?"]

    asked.clear()
    answer["yes"] = True
    with page.expect_navigation():
        delete.click()
    expect(page.get_by_role("button", name="Delete Northwind Toots")).to_have_count(0)
    assert asked == ["Delete this channel?"]
