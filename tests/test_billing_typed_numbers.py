"""Numbers typed into the finance forms are read in the page's language: an Italian writes
``1.234,50``, an English reader ``1,234.50``; text that could mean two numbers is refused with
both readings and changes nothing. The JSON API keeps its own format (minor units)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from agency.db import db
from agency.numbers import UnreadableNumber, read_number, write_number
from billing import invoices
from billing.models import Invoice, RateCard, TimeEntry
from tenants.context import tenant_context
from tenants.models import Role
from tests.billing_helpers import make_rate_card
from tests.factories import make_agency, make_client, make_member
from tests.helpers import form_post
from tests.world import sign_in

CARD = {
    "effective_from": "2026-11-01",
    "currency": "EUR",
    "monthly_retainer": "1500",
    "posts_included": "10",
    "price_per_post": "60",
    "price_per_reply": "15",
    "hourly_rate": "70",
    "vat_rate": "22",
    "payment_terms_days": "30",
}


def _speaking(user, locale: str):  # noqa: ANN001, ANN202
    user.locale = locale
    db.session.commit()
    return user


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("12,50", "it", Decimal("12.50")),
        ("1.234,50", "it", Decimal("1234.50")),
        ("1.500", "it", Decimal("1500")),
        ("-3,00", "it", Decimal("-3.00")),
        ("1,234.50", "en", Decimal("1234.50")),
        ("12.50", "en", Decimal("12.50")),
        ("1,500", "en", Decimal("1500")),
    ],
)
def test_typed_numbers_are_read_the_way_the_locale_writes_them(app, text, locale, expected):
    with app.test_request_context():
        assert read_number(text, example=Decimal(1), locale=locale) == expected


@pytest.mark.parametrize(
    ("text", "locale", "readings"),
    [
        ("12.50", "it", ("1.250,00", "12,50")),
        ("1.5", "it", ("15,00", "1,50")),
        ("12,50", "en", ("1,250.00", "12.50")),
        ("1.234,50", "en", ("1,234.50",)),
    ],
)
def test_ambiguous_text_is_refused_with_its_readings(app, text, locale, readings):
    with app.test_request_context(), pytest.raises(UnreadableNumber) as refused:
        read_number(text, example=Decimal(1500), places=2, amount=True, locale=locale)
    for reading in readings:
        assert reading in refused.value.message


@pytest.mark.parametrize("text", ["abc", "1e3", "NaN", "Infinity", "1_000", "12 €", ""])
def test_text_that_is_no_number_is_refused_with_an_example(app, text):
    with app.test_request_context("/?lang=it"), pytest.raises(UnreadableNumber) as refused:
        read_number(text, example=Decimal(1500), places=2, amount=True)  # the page's locale
    assert refused.value.message == "Inserisci un importo come 1.500,00."


def test_written_numbers_read_back_unchanged(app):
    with app.test_request_context():
        for locale in ("it", "en"):
            for value, places in ((Decimal("1234.5"), 2), (Decimal("10.00"), None), (7, 0)):
                shown = write_number(value, places, locale)
                assert read_number(shown, example=Decimal(1), locale=locale) == Decimal(value)
        assert write_number(Decimal("10.00"), None, "it") == "10"  # never "1E+1"


def test_italian_rate_card_reads_comma_decimals_and_dot_thousands(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    sign_in(client, _speaking(make_member(agency, Role.FINANCE), "it"))
    url = f"/a/{agency.slug}/clients/{acme.id}/rate-card"
    typed = {
        **CARD,
        "monthly_retainer": "1.234,50",
        "price_per_reply": "12,50",
        "vat_rate": "5,5",
        "posts_included": "1.000",
    }
    assert form_post(client, url, typed).status_code == 302
    with tenant_context(agency.id):
        card = db.session.scalar(select(RateCard))
    assert (card.monthly_retainer, card.price_per_reply) == (123_450, 1_250)
    assert (card.vat_rate, card.posts_included) == (Decimal("5.5"), 1000)


def test_the_rate_card_page_shows_numbers_its_own_way_and_saves_them_unchanged(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    make_rate_card(agency, acme, monthly_retainer=123_450, vat_rate=Decimal("10"))
    sign_in(client, _speaking(make_member(agency, Role.FINANCE), "it"))
    url = f"/a/{agency.slug}/clients/{acme.id}/rate-card"
    html = client.get(url).get_data(as_text=True)
    inputs = re.findall(r"<input [^>]*>", html)
    values = {
        re.search(r'id="(\w+)"', tag).group(1): re.search(r'value="([^"]*)"', tag).group(1)
        for tag in inputs
        if 'value="' in tag and ' id="' in tag
    }
    assert values["monthly_retainer"] == "1.234,50" and values["vat_rate"] == "10"
    assert "es. 1.500,00" in html
    fields = {name: values[name] for name in CARD if name in values}
    saved = form_post(client, url, {**fields, "currency": "EUR", "effective_from": "2026-11-01"})
    assert saved.status_code == 302
    with tenant_context(agency.id):
        newest = db.session.scalars(select(RateCard).order_by(RateCard.effective_from.desc()))
        card = newest.first()
    assert (card.monthly_retainer, card.vat_rate) == (123_450, Decimal("10"))


@pytest.mark.parametrize(
    ("locale", "typed", "readings"),
    [("it", "12.50", ("1.250,00", "12,50")), ("en", "12,50", ("1,250.00", "12.50"))],
)
def test_an_ambiguous_amount_changes_nothing_and_names_both_readings(
    client, locale, typed, readings
):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    sign_in(client, _speaking(make_member(agency, Role.FINANCE), locale))
    url = f"/a/{agency.slug}/clients/{acme.id}/rate-card"
    refused = form_post(client, url, {**CARD, "price_per_reply": typed, "vat_rate": "x"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert all(reading in html for reading in readings)
    assert f'value="{typed}"' in html  # what was typed stays in the field
    assert 'id="vat_rate"' in html and html.count("is-invalid") >= 2  # every error at once
    with tenant_context(agency.id):
        assert db.session.scalar(select(RateCard.id)) is None


def test_english_rate_card_reads_thousands_separators(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    sign_in(client, _speaking(make_member(agency, Role.FINANCE), "en"))
    url = f"/a/{agency.slug}/clients/{acme.id}/rate-card"
    assert form_post(client, url, {**CARD, "monthly_retainer": "1,234.50"}).status_code == 302
    with tenant_context(agency.id):
        assert db.session.scalar(select(RateCard.monthly_retainer)) == 123_450


def _draft(agency, acme):  # noqa: ANN001, ANN202
    make_rate_card(agency, acme)
    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period("2026-10")
    return invoice_id


def test_italian_invoice_line_reads_quantity_and_price_the_italian_way(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    invoice_id = _draft(agency, acme)
    sign_in(client, _speaking(make_member(agency, Role.FINANCE), "it"))
    page = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    assert "es. 250,00" in client.get(page).get_data(as_text=True)
    line = {"description": "Shooting", "quantity": "1,5", "unit_amount": "1.234,50"}
    added = form_post(client, f"{page}/lines", {**line, "vat_rate": "22"}, page=page)
    assert added.status_code == 302
    with tenant_context(agency.id):
        manual = invoices.lines_of(invoice_id)[-1]
    assert (manual.quantity, manual.unit_amount) == (Decimal("1.5"), 123_450)
    assert manual.amount == 185_175


def test_an_unclear_invoice_line_adds_nothing(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    invoice_id = _draft(agency, acme)
    sign_in(client, _speaking(make_member(agency, Role.FINANCE), "it"))
    page = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    with tenant_context(agency.id):
        before = db.session.get(Invoice, invoice_id).total
    line = {"description": "", "quantity": "1.5", "unit_amount": "99.99", "vat_rate": "22"}
    refused = form_post(client, f"{page}/lines", line, page=page)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "15 o 1,5" in html and "99,99" in html  # both quantity readings; the price's
    assert "obbligatorio" in html  # the description's error too
    with tenant_context(agency.id):
        assert [x.kind for x in invoices.lines_of(invoice_id)] == ["retainer"]
        assert db.session.get(Invoice, invoice_id).total == before


@pytest.mark.parametrize(("locale", "typed", "stored"), [("it", "1.200", 1200), ("en", "90", 90)])
def test_time_entries_read_minutes_in_the_page_language(client, locale, typed, stored):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    staff = _speaking(make_member(agency, Role.STAFF, assigned=[acme]), locale)
    sign_in(client, staff)
    url = f"/a/{agency.slug}/time"
    entry = {"client_id": str(acme.id), "date": "2026-01-05", "description": "Calls"}
    assert form_post(client, url, {**entry, "minutes": "1,5"}).status_code == 422
    assert form_post(client, url, {**entry, "minutes": typed}).status_code == 302
    with tenant_context(agency.id):
        assert list(db.session.scalars(select(TimeEntry.minutes))) == [stored]
