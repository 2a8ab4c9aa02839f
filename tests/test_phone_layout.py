"""Phone width (375 px) markup: the posts list and the approval queue stack each post into a card
(table-stack) instead of squeezing the text column; the turnaround chart's words are page text,
not SVG text scaled down with the chart; invoice totals are one summary, not three cards.
(The screenshots behind these rules: 375 and 1366 px, English and Italian.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from billing import invoices
from tenants.context import tenant_context
from tenants.models import Role
from tests.billing_helpers import make_rate_card
from tests.content_helpers import act, draft, make_desk
from tests.factories import make_agency, make_client, make_member
from tests.helpers import page_as

CSS = Path(__file__).resolve().parents[1] / "agency" / "static" / "regia.css"


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[html.rindex("<table", 0, start) : html.index("</table>", start)]


def _assert_stacked(table: str) -> None:
    """Every body cell has a label for its card line, but the title and the checkbox."""
    assert "table-stack" in table.split(">", 1)[0]
    body = table.split("<tbody>", 1)[1]
    cells = re.findall(r"<td[^>]*>", body)
    assert cells
    for cell in cells:
        assert "data-label=" in cell or "stack-title" in cell or "stack-check" in cell, cell


def test_posts_list_and_approval_queue_stack_into_cards_on_phones(app, client, desk):
    post = draft(client, desk, body="A long Italian post about the new menu")
    act(client, desk, post["id"], "submit", "staff")
    slug = desk.agency.slug
    _assert_stacked(_table(page_as(app, desk.users["manager"], f"/a/{slug}/posts/"), "post-table"))
    queue = page_as(app, desk.users["manager"], f"/a/{slug}/posts/queue")
    _assert_stacked(_table(queue, "queue-table"))
    assert 'class="stack-pick"' in queue


def test_turnaround_chart_words_are_page_text(app, client, desk):
    post = draft(client, desk, body="Approve me")
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    act(client, desk, post["id"], "approve", "cm")
    html = page_as(app, desk.users["manager"], f"/a/{desk.agency.slug}/")
    card = html[html.index('id="turnaround-heading"') :].split("</section>")[0]
    assert "<svg" in card and "<text" not in card  # bars only: no text shrinks with them
    assert re.search(r"<span[^>]*>Bellavista</span>", card)


def test_invoice_totals_are_one_summary_on_phones(app):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    make_rate_card(agency, acme)
    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period("2026-10")
    finance = make_member(agency, Role.FINANCE)
    html = page_as(app, finance, f"/a/{agency.slug}/billing/invoices/{invoice_id}")
    assert "<tfoot>" in _table(html, "line-table")
    phone = CSS.read_text().split("@media (max-width: 767.98px)")[1].split("\n}\n")[0]
    assert ".table-stack tfoot { display: block;" in phone  # one block: a summary card
    assert ".table-stack tfoot tr { display: flex;" in phone  # a "label … amount" line each
    assert "tfoot td[data-label]::before { content: none; }" in phone  # no label twice
