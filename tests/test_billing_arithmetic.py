"""Property-based: whatever the rate card and the work, lines + VAT = total in minor units,
for every currency; a credit note nets its invoice to zero (hypothesis)."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agency.db import db
from billing import invoices, lifecycle
from billing.lines import make_line, negated, totals, usage_lines
from billing.models import Invoice
from billing.money import CURRENCIES, exponent, format_money, to_major, to_minor
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.billing_helpers import add_time, add_usage, make_rate_card
from tests.factories import make_agency, make_client, make_member

amounts = st.integers(min_value=0, max_value=10**9)
vat_rates = st.decimals(min_value=0, max_value=100, places=2)
cards = st.builds(
    SimpleNamespace,
    currency=st.sampled_from(CURRENCIES),
    monthly_retainer=amounts,
    posts_included=st.integers(min_value=0, max_value=50),
    price_per_post=amounts,
    price_per_reply=amounts,
    hourly_rate=amounts,
    vat_rate=vat_rates,
)
manual_lines = st.lists(
    st.tuples(
        st.decimals(min_value=Decimal("0.01"), max_value=1000, places=2),
        st.integers(min_value=-(10**8), max_value=10**8),
        vat_rates,
    ),
    max_size=5,
)


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@settings(max_examples=400, deadline=None)
@given(
    card=cards,
    posts=st.integers(min_value=0, max_value=500),
    replies=st.integers(min_value=0, max_value=500),
    minutes=st.integers(min_value=0, max_value=20_000),
    manual=manual_lines,
)
def test_lines_plus_vat_equal_the_total_and_a_credit_note_nets_to_zero(
    card, posts, replies, minutes, manual
):
    lines = usage_lines(card, posts, replies, minutes)
    lines += [make_line("manual", "Extra", q, u, r) for q, u, r in manual]
    for line in lines:
        assert isinstance(line.amount, int)
        assert line.amount == _half_up(line.quantity * line.unit_amount)
    result = totals(lines)
    assert result.subtotal == sum(line.amount for line in lines)
    assert result.subtotal + sum(vat for _r, _t, vat in result.buckets) == result.total
    assert result.total == result.subtotal + result.tax
    for rate, taxable, vat in result.buckets:
        assert taxable == sum(x.amount for x in lines if Decimal(x.vat_rate) == rate)
        assert vat == _half_up(Decimal(taxable) * rate / 100)
    if posts:  # included and extra posts together are every post
        counted = sum(x.quantity for x in lines if x.kind in ("posts", "extra_posts"))
        assert counted == posts
    note = totals([negated(line) for line in lines])
    assert (result.subtotal + note.subtotal, result.tax + note.tax) == (0, 0)
    assert result.total + note.total == 0


@given(currency=st.sampled_from(CURRENCIES), minor=st.integers(-(10**12), 10**12))
def test_minor_units_round_trip_through_the_major_amount(currency, minor):
    major = to_major(minor, currency)
    assert to_minor(major, currency) == minor
    assert format_money(minor, currency).endswith(currency)
    assert -major.as_tuple().exponent == exponent(currency)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    card=cards,
    posts=st.integers(min_value=0, max_value=30),
    replies=st.integers(min_value=0, max_value=10),
    minutes=st.integers(min_value=0, max_value=600),
)
def test_stored_invoices_and_credit_notes_keep_the_arithmetic(app, card, posts, replies, minutes):
    agency = make_agency()
    client = make_client(agency, f"C {uuid.uuid4().hex[:8]}")
    finance = make_member(agency, Role.FINANCE)
    make_rate_card(agency, client, **{**vars(card), "payment_terms_days": 30})
    add_usage(agency, client, "2026-09", posts=posts, replies=replies)
    if minutes:
        add_time(agency, client, "2026-09", minutes)
    with tenant_context(agency.id):
        made = invoices.run_period("2026-09", client_id=client.id)
        if not made:
            return  # nothing billable: no retainer and no work
        access = load_access(finance, agency)
        invoice = lifecycle.finalize(access, made[0])
        note = lifecycle.credit_note(access, invoice.id)
        for row in (invoice, note):
            stored = db.session.get(Invoice, row.id)
            lines = invoices.lines_of(row.id)
            assert stored.subtotal == sum(line.amount for line in lines)
            assert stored.subtotal + stored.tax == stored.total
            assert stored.currency == card.currency
        assert invoice.total + note.total == 0
        assert invoice.tax + note.tax == 0


@pytest.mark.parametrize(
    ("currency", "major", "minor"),
    [("EUR", "12.34", 1234), ("JPY", "1234", 1234), ("KWD", "1.234", 1234)],
)
def test_currencies_have_their_own_minor_unit(currency, major, minor):
    assert to_minor(major, currency) == minor
