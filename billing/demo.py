"""Demo billing: rate cards and last month's billable work, so finance can run an invoice run,
finalize and export on first start (``flask --app wsgi demo``)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from agency.db import db
from billing import usage
from billing.models import RateCard, TimeEntry
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany

CARDS = {
    # currency, retainer, posts included, extra post, reply, hour, VAT %, terms
    "EUR": (150_000, 8, 6_000, 1_500, 7_000, Decimal("22"), 30),
    "GBP": (120_000, 6, 5_500, 1_200, 6_500, Decimal("20"), 14),
}
WORK = [(12, 5, 270), (8, 2, 120)]  # posts, replies, minutes per client


def last_month(today: date) -> tuple[date, str]:
    first = today.replace(day=1) - timedelta(days=1)
    return first.replace(day=1), first.strftime("%Y-%m")


def seed_demo_billing(
    agency: Agency, clients: list[ClientCompany], workers: list[uuid.UUID | None]
) -> str:
    """Rate cards from last month on, and last month's posts, replies and hours; the period.
    ``workers[i]`` logged the hours of ``clients[i]`` (staff only on clients assigned to them)."""
    start, period = last_month(datetime.now(UTC).date())
    with tenant_context(agency.id):
        for client, worker, (posts, replies, minutes) in zip(clients, workers, WORK, strict=False):
            retainer, included, post, reply, hour, vat, terms = CARDS.get(
                client.currency, CARDS["EUR"]
            )
            db.session.add(
                RateCard(
                    client_id=client.id,
                    effective_from=start,
                    currency=client.currency if client.currency in CARDS else "EUR",
                    monthly_retainer=retainer,
                    posts_included=included,
                    price_per_post=post,
                    price_per_reply=reply,
                    hourly_rate=hour,
                    vat_rate=vat,
                    payment_terms_days=terms,
                )
            )
            for n in range(posts + replies):
                usage.record(
                    db.session,
                    client_id=client.id,
                    target_id=uuid.uuid4(),
                    kind="post" if n < posts else "reply",
                    occurred_at=datetime(start.year, start.month, 1 + n % 27, 10, tzinfo=UTC),
                )
            for day, share in ((3, 2), (17, 1)):
                db.session.add(
                    TimeEntry(
                        client_id=client.id,
                        user_id=worker,
                        minutes=minutes * share // 3,
                        description="Community management and reporting",
                        work_date=start.replace(day=day),
                        period=period,
                    )
                )
        db.session.commit()
    return period
