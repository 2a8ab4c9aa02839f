"""Finance's dashboard: drafts to finalize, open and overdue invoices with their amounts, this
month's invoiced total and the export, at a glance, in a constant number of statements."""

from __future__ import annotations

from datetime import timedelta

from agency.db import db, utcnow
from billing import invoices, lifecycle
from billing.models import Invoice
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.billing_helpers import add_usage, make_rate_card
from tests.factories import make_agency, make_client, make_member
from tests.helpers import AuthActions
from tests.test_query_counts import count_statements


def _card(html: str) -> str:
    start = html.index('id="finance-card"')
    return html[start : html.index("</section>", start)]


def _figure(card: str, name: str) -> str:
    start = card.index(f'id="finance-{name}"')
    return card[start : card.index("</dl>", start)]


def test_finance_sees_drafts_open_overdue_and_this_months_total(app):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    north = make_client(agency, "Northwind")
    for client in (acme, north):
        make_rate_card(agency, client)  # 1,000.00 EUR a month, 22 % VAT
    add_usage(agency, north, "2026-09", posts=2)  # one extra post: 1,050.00 + VAT
    finance = make_member(agency, Role.FINANCE)
    with tenant_context(agency.id):
        access = load_access(finance, agency)
        september = invoices.run_period("2026-09")
        for invoice_id in september:
            lifecycle.finalize(access, invoice_id)
        late = db.session.get(Invoice, september[0])  # Acme's: 1,220.00 EUR
        late.due_at = utcnow() - timedelta(days=3)
        db.session.commit()
        invoices.run_period("2026-10")  # two drafts
    web = app.test_client()
    assert AuthActions(web).login(finance.email).status_code == 302
    html = web.get(f"/a/{agency.slug}/").get_data(as_text=True)
    card = _card(html)
    assert ">2</a>" in _figure(card, "drafts") and "€2,440.00" in _figure(card, "drafts")
    assert ">2</a>" in _figure(card, "open") and "€2,501.00" in _figure(card, "open")
    overdue = _figure(card, "overdue")
    assert ">1</dd>" in overdue and "€1,220.00" in overdue
    assert "€2,501.00" in _figure(card, "month")  # both finalized today
    assert f'href="/a/{agency.slug}/billing/exports"' in card
    assert f'href="/a/{agency.slug}/billing/?status=draft"' in card
    assert "Acme · 2026-10" in card and "Northwind · 2026-10" in card  # the drafts, linked
    assert "client companies to bill" not in html  # the old vague card

    italian = web.get(f"/a/{agency.slug}/?lang=it", headers={"Accept-Language": "it"})
    assert "Bozze da emettere" in italian.get_data(as_text=True)


def test_the_finance_card_costs_the_same_statements_with_many_invoices(app):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    finance = make_member(agency, Role.FINANCE)
    web = app.test_client()
    assert AuthActions(web).login(finance.email).status_code == 302
    url = f"/a/{agency.slug}/"
    made = 0

    def grow(n: int) -> None:
        nonlocal made
        now = utcnow()
        with tenant_context(agency.id):
            for _ in range(n):
                made += 1
                for status, number in (("draft", None), ("open", f"2026/{made:04d}")):
                    db.session.add(
                        Invoice(
                            client_id=acme.id,
                            period="2026-10",
                            currency="EUR",
                            status=status,
                            number=number,
                            total=1000,
                            issued_at=now if number else None,
                            due_at=now - timedelta(days=1) if number else None,
                        )
                    )
            db.session.commit()

    grow(2)
    web.get(url)  # warm-up
    with count_statements() as few:
        assert web.get(url).status_code == 200
    grow(20)
    with count_statements() as many:
        html = web.get(url).get_data(as_text=True)
    assert len(many) == len(few), (len(few), len(many))
    assert ">22</a>" in _figure(_card(html), "drafts")
