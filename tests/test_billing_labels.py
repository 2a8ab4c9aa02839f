"""Billing pages speak the reader's language: invoice statuses in words (one mapping, every
page), the void button an action, and amounts in the reader's locale."""

from __future__ import annotations

import re

import pytest

from billing import invoices, lifecycle
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.billing_helpers import make_rate_card
from tests.factories import make_agency, make_client, make_member
from tests.world import sign_in

EN = {"Accept-Language": "en-GB,en;q=0.9"}
IT = {"Accept-Language": "it-IT,it;q=0.9"}
RAW = ("draft", "open", "paid", "void", "uncollectible")


@pytest.fixture
def books():
    """An open invoice (retainer 1,000.00 EUR + 22 % VAT = 1,220.00) and a draft."""
    agency = make_agency()
    acme = make_client(agency, "Acme")
    finance = make_member(agency, Role.FINANCE)
    manager = make_member(agency, Role.CLIENT_MANAGER, client=acme)
    make_rate_card(agency, acme)
    with tenant_context(agency.id):
        (open_id,) = invoices.run_period("2026-09")
        lifecycle.finalize(load_access(finance, agency), open_id)
        (draft_id,) = invoices.run_period("2026-10")
    return agency, finance, manager, open_id, draft_id


def _badges(html: str) -> list[str]:
    return re.findall(r'<span class="badge text-bg-light">([^<]*)</span>', html)


def _options(html: str) -> list[str]:
    select = html.split('id="f-status"', 1)[1].split("</select>", 1)[0]
    return re.findall(r"<option[^>]*>([^<]*)</option>", select)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        (EN, ["Any", "Draft", "Open", "Paid", "Void", "Uncollectible"]),
        (IT, ["Qualsiasi", "Bozza", "Aperta", "Pagata", "Annullata", "Inesigibile"]),
    ],
)
def test_invoice_list_names_statuses_in_the_readers_language(client, books, headers, words):
    agency, finance, _manager, _open, _draft = books
    sign_in(client, finance)
    html = client.get(f"/a/{agency.slug}/billing/", headers=headers).get_data(as_text=True)
    assert _options(html) == words
    assert sorted(_badges(html)) == sorted([words[1], words[2]])
    assert not set(_badges(html)) & set(RAW)


def test_invoice_page_status_and_void_action_in_italian(client, books):
    agency, finance, _manager, open_id, _draft = books
    sign_in(client, finance)
    html = client.get(f"/a/{agency.slug}/billing/invoices/{open_id}", headers=IT).get_data(
        as_text=True
    )
    assert re.search(r"<dt[^>]*>Stato</dt><dd[^>]*>Aperta", html), html
    assert ">Annulla fattura</button>" in html and ">Annullata</button>" not in html
    english = client.get(f"/a/{agency.slug}/billing/invoices/{open_id}", headers=EN)
    assert ">Void invoice</button>" in english.get_data(as_text=True)


@pytest.mark.parametrize(("headers", "word"), [(EN, "Open"), (IT, "Aperta")])
def test_client_portal_invoice_badge_in_the_readers_language(client, books, headers, word):
    agency, _finance, manager, _open, _draft = books
    sign_in(client, manager)
    html = client.get(f"/a/{agency.slug}/my-invoices", headers=headers).get_data(as_text=True)
    assert _badges(html) == [word]


@pytest.mark.parametrize(
    ("headers", "total", "placeholder"),
    [(EN, "€1,220.00", "YYYY-MM"), (IT, "1.220,00\xa0€", "AAAA-MM")],
)
def test_amounts_and_period_placeholder_follow_the_readers_locale(
    client, books, headers, total, placeholder
):
    agency, finance, _manager, open_id, _draft = books
    sign_in(client, finance)
    listing = client.get(f"/a/{agency.slug}/billing/", headers=headers).get_data(as_text=True)
    assert total in listing and not re.search(r"\d EUR", listing)
    assert f'placeholder="{placeholder}"' in listing
    page = client.get(f"/a/{agency.slug}/billing/invoices/{open_id}", headers=headers)
    assert total in page.get_data(as_text=True)


def test_machine_formats_keep_plain_amounts(client, books):
    agency, finance, _manager, open_id, _draft = books
    sign_in(client, finance)
    with tenant_context(agency.id):
        issued = invoices.get_invoice(load_access(finance, agency), open_id).issued_at.date()
    day = issued.isoformat()
    csv = client.get(f"/a/{agency.slug}/billing/exports/invoices.csv?date_from={day}&date_to={day}")
    assert csv.status_code == 200 and ",1220.00," in csv.get_data(as_text=True)
