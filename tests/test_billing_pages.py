"""Finance pages: rate card form, draft editing, overdue highlighting, the monthly chart."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from agency.db import db, utcnow
from billing import invoices, lifecycle
from billing.models import Invoice, RateCard
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.billing_helpers import add_usage, make_rate_card
from tests.factories import make_agency, make_client, make_member
from tests.helpers import form_post
from tests.world import sign_in

CARD_FORM = {
    "effective_from": "2026-11-01",
    "currency": "EUR",
    "monthly_retainer": "1500.00",
    "posts_included": "10",
    "price_per_post": "60",
    "price_per_reply": "15.50",
    "hourly_rate": "70.00",
    "vat_rate": "22",
    "payment_terms_days": "30",
}


def test_rate_card_form_stores_minor_units_and_explains_bad_fields(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    sign_in(client, make_member(agency, Role.FINANCE))
    url = f"/a/{agency.slug}/clients/{acme.id}/rate-card"
    bad = form_post(client, url, {**CARD_FORM, "monthly_retainer": "15.001", "vat_rate": "x"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Enter an amount such as 1,500.00." in html and "between 0 and 100" in html
    with tenant_context(agency.id):
        assert db.session.scalar(select(RateCard.id)) is None
    ok = form_post(client, url, CARD_FORM)
    assert ok.status_code == 302
    with tenant_context(agency.id):
        card = db.session.scalar(select(RateCard))
    assert (card.monthly_retainer, card.price_per_reply, card.currency) == (150_000, 1_550, "EUR")


def test_finance_adds_and_removes_draft_lines_until_finalized(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    finance = make_member(agency, Role.FINANCE)
    make_rate_card(agency, acme)
    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period("2026-10")
    sign_in(client, finance)
    page = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    bad = form_post(
        client,
        f"{page}/lines",
        {"description": "", "quantity": "1", "unit_amount": "abc", "vat_rate": "22"},
        page=page,
    )
    assert bad.status_code == 422 and "Enter an amount such as 250.00." in bad.get_data(True)
    added = form_post(
        client,
        f"{page}/lines",
        {"description": "Shoot", "quantity": "2", "unit_amount": "125.50", "vat_rate": "22"},
        page=page,
    )
    assert added.status_code == 302
    with tenant_context(agency.id):
        lines = invoices.lines_of(invoice_id)
        total = db.session.get(Invoice, invoice_id).total
    assert [(x.kind, x.amount) for x in lines] == [("retainer", 100_000), ("manual", 25_100)]
    assert total == round((100_000 + 25_100) * 1.22)
    form_post(client, f"{page}/lines/{lines[1].id}/delete", {}, page=page)
    form_post(client, f"{page}/finalize", {}, page=page)
    late = form_post(
        client,
        f"{page}/lines",
        {"description": "Late", "quantity": "1", "unit_amount": "1", "vat_rate": "22"},
        page=page,
    )
    assert late.status_code == 409
    with tenant_context(agency.id):
        assert [x.kind for x in invoices.lines_of(invoice_id)] == ["retainer"]


def test_invoice_list_highlights_overdue_and_charts_monthly_totals(client):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    finance = make_member(agency, Role.FINANCE)
    make_rate_card(agency, acme)
    add_usage(agency, acme, "2026-09", posts=1)
    with tenant_context(agency.id):
        access = load_access(finance, agency)
        (first,) = invoices.run_period("2026-09")
        (second,) = invoices.run_period("2026-10")
        for invoice_id in (first, second):
            lifecycle.finalize(access, invoice_id)
        # The database lets due dates move (only numbers, lines and amounts are frozen).
        db.session.get(Invoice, first).due_at = utcnow() - timedelta(days=3)
        db.session.commit()
    sign_in(client, finance)
    html = client.get(f"/a/{agency.slug}/billing/").get_data(as_text=True)
    assert html.count("table-danger") == 1 and "Overdue" in html
    assert "<svg" in html and "2026-09" in html and "2026-10" in html
    assert "€1,220.00" in html  # the monthly total, in the table behind the chart
    # The months are page text under the bars: SVG text shrank with the chart (6 px on phones).
    chart = html[html.index('id="chart-EUR"') :].split("</section>")[0]
    assert "<text" not in chart
    months = re.findall(r"<span>(\d\d-\d\d)<span[^>]*>([^<]+)</span></span>", chart)
    assert months == [("26-09", "€1,220.00"), ("26-10", "€1,220.00")]
    assert "<span></span>" * 4 + "</div>" in chart  # the empty months of a 6-month axis
    assert chart.count("<rect") == 2 and 'width="93.0"' in chart  # a month's width of 6


def test_a_refused_line_names_every_bad_field_at_once(client):
    """A bad amount used to hide the other fields' errors until the next try."""
    agency = make_agency()
    acme = make_client(agency, "Acme")
    make_rate_card(agency, acme)
    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period("2026-10")
    sign_in(client, make_member(agency, Role.FINANCE))
    page = f"/a/{agency.slug}/billing/invoices/{invoice_id}"
    bad = form_post(
        client,
        f"{page}/lines",
        {"description": "", "quantity": "abc", "unit_amount": "xyz", "vat_rate": "-5"},
        page=page,
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for field in ("description", "quantity", "unit_amount", "vat_rate"):
        tag = html[html.index(f'id="{field}"') - 200 : html.index(f'id="{field}"') + 200]
        assert "is-invalid" in tag, field
    with tenant_context(agency.id):
        assert [x.kind for x in invoices.lines_of(invoice_id)] == ["retainer"]
