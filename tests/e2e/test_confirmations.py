"""Forms that ask before doing something irreversible (``data-confirm``) ask once, and only
a "yes" acts.

The base template loaded ``regia.js`` twice (deferred in the head and again at the end of the
body), so every confirmation was asked twice: deleting a channel showed "Delete this
channel?" a second time after the user had said yes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from agency.db import db
from tenants.context import tenant_context
from tenants.models import Role
from tests.e2e.conftest import sign_in
from tests.factories import (
    PASSWORD,
    make_agency,
    make_channel,
    make_client,
    make_member,
    owner_of,
    token_for,
)


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


@dataclass
class Confirmed:
    """A ``data-confirm`` form: where it is, its button, its question, and whether what it
    removes still works (read from the database, not from the page)."""

    path: str
    button: str
    question: str
    still_there: Callable[[], bool]


def _channel_delete(agency, client) -> Confirmed:  # noqa: ANN001
    from agency.channels.models import Channel

    channel_id = make_channel(agency, client, name="Northwind Toots").id

    def still_there() -> bool:
        db.session.rollback()
        with tenant_context(agency.id):
            found = db.session.scalar(select(Channel.id).where(Channel.id == channel_id))
            db.session.rollback()
        return found is not None

    return Confirmed(
        f"/a/{agency.slug}/clients/{client.id}/channels/",
        "Delete Northwind Toots",
        "Delete this channel?",
        still_there,
    )


def _review_links_revoke(agency, client) -> Confirmed:  # noqa: ANN001
    from agency.content import links
    from agency.errors import PermissionDenied

    manager = make_member(agency, Role.CLIENT_MANAGER, client=client)
    with tenant_context(agency.id):
        token = links.issue_link(client, manager)
        db.session.commit()

    def still_there() -> bool:
        db.session.rollback()
        with tenant_context(agency.id):
            try:
                links.resolve(token)
            except PermissionDenied:  # what a revoked link answers
                return False
            finally:
                db.session.rollback()
        return True

    return Confirmed(
        f"/a/{agency.slug}/posts/?client_id={client.id}",
        "Revoke all review links of this client",
        "Revoke every review link sent to this client? Their links stop working at once; "
        "send a post's link again from its page.",
        still_there,
    )


def _api_token_revoke(agency, client) -> Confirmed:  # noqa: ANN001, ARG001
    from tenants.service import resolve_token

    token = token_for(owner_of(agency), agency)

    def still_there() -> bool:
        db.session.rollback()
        live = resolve_token(token) is not None
        db.session.rollback()
        return live

    return Confirmed(
        "/account/tokens",
        "Revoke API token",
        "Revoke the token API token? Scripts and apps using it stop working at once.",
        still_there,
    )


@pytest.mark.parametrize(
    "confirmed", [_channel_delete, _review_links_revoke, _api_token_revoke],
    ids=["channel-delete", "review-links-revoke", "api-token-revoke"],
)  # fmt: skip
def test_a_dismissed_confirmation_changes_nothing_and_an_accepted_one_acts(page: Page, confirmed):
    agency = make_agency("Aurora Social")
    client = make_client(agency, "Northwind Outdoor")
    form = confirmed(agency, client)
    assert form.still_there()
    sign_in(page, owner_of(agency).email, PASSWORD)
    page.goto(form.path)
    button = page.get_by_role("button", name=form.button)

    asked: list[str] = []
    answer = {"yes": False}

    def reply(dialog) -> None:  # noqa: ANN001 - playwright Dialog
        asked.append(dialog.message)
        dialog.accept() if answer["yes"] else dialog.dismiss()

    page.on("dialog", reply)
    button.click()
    expect(button).to_be_visible()  # "no": no navigation, the page as it was
    assert asked == [form.question]
    assert form.still_there()

    asked.clear()
    answer["yes"] = True
    with page.expect_navigation():
        button.click()
    assert asked == [form.question]
    expect(page.locator(".alert-success")).to_be_visible()
    assert not form.still_there()
