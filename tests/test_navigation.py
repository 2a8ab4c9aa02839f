"""The agency menu: one current item at most, items by what the reader may do, and the
calendar's period named and laid out Monday to Sunday."""

from __future__ import annotations

import pytest

from tests.content_helpers import act, draft, make_desk
from tests.test_accessibility_markup import EN, IT, page_of, sign_in


@pytest.fixture
def desk():
    return make_desk()


def _inside(element, ancestor) -> bool:  # noqa: ANN001
    while element is not None:
        if element is ancestor:
            return True
        element = element.parent
    return False


def _menu(client, path: str, headers: dict = EN) -> dict[str, str | None]:
    """Each agency menu item's label -> its aria-current (None when not current)."""
    page = page_of(client.get(path, headers=headers))
    nav = page.by_id("nav")
    return {
        a.text: a.get("aria-current")
        for a in page.find("a", class_="nav-link")
        if _inside(a, nav) and a.get("id") != "nav-notifications"
    }


def test_a_post_page_is_in_posts_only_not_also_in_calendar_and_queue(client, desk):
    post = draft(client, desk)
    sign_in(client, desk.users["owner"])
    base = f"/a/{desk.agency.slug}/posts"
    for path, expected in [
        (f"{base}/{post['id']}", {"Posts": "true"}),
        (f"{base}/{post['id']}/edit", {"Posts": "true"}),
        (f"{base}/", {"Posts": "page"}),
        (f"{base}/calendar", {"Calendar": "page"}),
        (f"{base}/queue", {"To approve": "page"}),
    ]:
        current = {label: mark for label, mark in _menu(client, path).items() if mark}
        assert current == expected, path


def test_billing_pages_are_in_billing_and_stripe_is_no_menu_item_of_its_own(client, desk):
    sign_in(client, desk.users["owner"])
    base = f"/a/{desk.agency.slug}/billing"
    menu = _menu(client, f"{base}/stripe")
    assert "Stripe" not in menu
    assert menu["Billing"] == "true"
    assert _menu(client, f"{base}/exports")["Billing"] == "true"
    page = page_of(client.get(f"{base}/", headers=EN))
    assert [a for a in page.find("a") if a.get("href") == f"{base}/stripe"]


@pytest.mark.parametrize(
    ("who", "label"),
    [
        ("owner", "To approve"),
        ("manager", "To approve"),
        ("cm", "To approve"),
        ("staff", "Sent back to you"),
        ("viewer", None),
        ("finance", None),
    ],
)
def test_the_queue_is_named_for_what_it_holds_and_hidden_from_who_decides_nothing(
    client, desk, who, label
):
    sign_in(client, desk.users[who])
    menu = _menu(client, f"/a/{desk.agency.slug}/")
    labels = {"To approve", "Sent back to you"} & set(menu)
    assert labels == ({label} if label else set())


def test_staff_see_their_sent_back_posts_without_an_approve_button(client, desk):
    post = draft(client, desk)
    assert act(client, desk, post["id"], "submit", "staff").status_code == 200
    assert (
        act(client, desk, post["id"], "request-changes", "manager", comment="Shorter").status_code
        == 200
    )
    sign_in(client, desk.users["staff"])
    page = page_of(client.get(f"/a/{desk.agency.slug}/posts/queue", headers=EN))
    assert page.title == "Sent back to you · Regia"
    assert any((a.get("href") or "").endswith(post["id"]) for a in page.find("a"))
    assert not [b for b in page.find("button") if b.text == "Approve the selected posts"]
    assert not page.find("input", type="checkbox")


@pytest.mark.parametrize(
    ("headers", "query", "heading", "blanks"),
    [
        (EN, "view=month&date=2026-11-28", "November 2026", 6),  # 1 November 2026: a Sunday
        (IT, "view=month&date=2026-12-15", "Dicembre 2026", 1),  # 1 December 2026: a Tuesday
        (EN, "view=week&date=2026-11-26", "23 Nov – 29 Nov 2026", 0),
    ],
)
def test_the_calendar_names_its_period_and_starts_its_month_on_the_right_weekday(
    client, desk, headers, query, heading, blanks
):
    sign_in(client, desk.users["owner"])
    page = page_of(client.get(f"/a/{desk.agency.slug}/posts/calendar?{query}", headers=headers))
    assert page.by_id("period-heading").text == heading
    (grid,) = page.find(aria_labelledby="period-heading")
    cells = [e for e in page.find("div") if e.parent is grid]
    assert len(cells) == blanks + (7 if "week" in query else 30 if "11-" in query else 31)
    assert sum(1 for e in cells if e.get("aria-hidden") == "true") == blanks
