"""Billing test helpers: rate cards, usage and time for a client, straight into the database."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from agency.db import db
from billing import usage
from billing.models import RateCard, TimeEntry
from tenants.context import tenant_context

CARD = {
    "currency": "EUR",
    "monthly_retainer": 100_000,
    "posts_included": 1,
    "price_per_post": 5_000,
    "price_per_reply": 1_000,
    "hourly_rate": 6_000,
    "vat_rate": Decimal("22"),
    "payment_terms_days": 30,
}


def make_rate_card(agency, client, effective_from: date | None = None, **fields) -> RateCard:  # noqa: ANN001
    with tenant_context(agency.id):
        card = RateCard(
            client_id=client.id,
            effective_from=effective_from or date(2020, 1, 1),
            **{**CARD, **fields},
        )
        db.session.add(card)
        db.session.commit()
    return card


def add_usage(agency, client, period: str, posts: int = 0, replies: int = 0) -> None:  # noqa: ANN001
    year, month = int(period[:4]), int(period[5:])
    moment = datetime(year, month, 10, 12, tzinfo=UTC)
    with tenant_context(agency.id):
        for kind, count in (("post", posts), ("reply", replies)):
            for _ in range(count):
                usage.record(
                    db.session,
                    client_id=client.id,
                    target_id=uuid.uuid4(),
                    kind=kind,
                    occurred_at=moment,
                )
        db.session.commit()


def add_time(agency, client, period: str, minutes: int, user=None) -> None:  # noqa: ANN001
    day = date(int(period[:4]), int(period[5:]), 5)
    with tenant_context(agency.id):
        db.session.add(
            TimeEntry(
                client_id=client.id,
                minutes=minutes,
                description="Work",
                work_date=day,
                period=period,
                user_id=user.id if user else None,
            )
        )
        db.session.commit()


WORLD_PERIOD = "2026-10"


def italian_fiscal_data(agency, client) -> None:  # noqa: ANN001
    """Seller and buyer data complete enough for a FatturaPA export (bank transfer)."""
    with tenant_context(agency.id):
        place = {"country": "IT", "postal_code": "20124", "city": "Milano", "province": "MI"}
        seller = db.session.merge(agency)
        for name, value in {
            **place,
            "legal_name": seller.legal_name or seller.name,
            "vat_number": "IT00743110157",
            "address": "Via Roma 1",
            "tax_regime": "RF01",
            "iban": "IT60X0542811101000000123456",
        }.items():
            setattr(seller, name, value)
        buyer = db.session.merge(client)
        for name, value in {
            **place,
            "vat_number": "IT02849360017",
            "address": "Corso Como 2",
            "sdi_code": "ABC1234",
        }.items():
            setattr(buyer, name, value)
        db.session.commit()


def billing_objects(agency, client) -> dict:  # noqa: ANN001
    """For the sweeps (tests/world.py): a rate card, two months of work, an open invoice
    (``invoice``; so a numbering counter exists too), a draft (``draft_invoice``) with its
    lines, and a finished invoice run of an unbilled month."""
    from sqlalchemy import select

    from billing import invoices, jobs, lifecycle
    from billing.models import InvoiceLine
    from tenants.models import User
    from tenants.permissions import Access, Role

    italian_fiscal_data(agency, client)  # the FatturaPA routes answer 200 for the sweeps
    make_rate_card(agency, client, effective_from=date(2026, 1, 1))
    add_usage(agency, client, "2026-09", posts=1)
    add_usage(agency, client, WORLD_PERIOD, posts=2, replies=1)
    add_time(agency, client, WORLD_PERIOD, 30)
    with tenant_context(agency.id):
        (earlier,) = invoices.run_period("2026-09", client_id=client.id)
        system = Access(User(id=uuid.uuid4(), email="", name=""), agency, Role.OWNER)
        lifecycle.finalize(system, earlier)
        (invoice_id,) = invoices.run_period(WORLD_PERIOD, client_id=client.id)
        line_id = db.session.scalar(
            select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice_id).limit(1)
        )
        run_id = jobs.enqueue_run(agency.id, "2025-01", None)  # before the card: drafts nothing
    return {
        "invoice": earlier,  # open: what a client manager may read
        "draft_invoice": invoice_id,
        "invoice_line": line_id,
        "invoice_run": run_id,
    }


def use_draft_invoice(world) -> None:  # noqa: ANN001
    """Role sweep ``prepare``: routes under ``<invoice_id>`` act on the world's draft."""
    world.objects["invoice"] = world.objects["draft_invoice"]
