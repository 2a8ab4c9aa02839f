"""The finance dashboard's numbers: what waits on finance, at a glance, in a constant number of
statements (one aggregate, the invoice list's first drafts, the longest overdue), whatever
the number of invoices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from agency.db import db
from billing import invoices, rates
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from tenants.permissions import Access

LIST_LIMIT = 5
ISSUED = (InvoiceStatus.OPEN.value, InvoiceStatus.PAID.value, InvoiceStatus.UNCOLLECTIBLE.value)


@dataclass
class Bucket:
    """How many invoices, and their totals per currency (minor units)."""

    count: int = 0
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, currency: str, count: int, total: int) -> None:
        self.count += count
        self.totals[currency] = self.totals.get(currency, 0) + total


@dataclass
class FinanceSummary:
    drafts: Bucket
    open: Bucket  # open invoices (overdue ones included)
    overdue: Bucket
    issued_this_month: Bucket  # invoices and credit notes issued this month, net
    month: date  # the first day of "this month", in the agency's time zone
    draft_list: list[Invoice]  # the newest periods first (the invoice list's order)
    overdue_list: list[Invoice]  # the longest overdue first


def month_start(now: datetime, timezone: str) -> datetime:
    """The first moment of ``now``'s month in ``timezone`` (as an aware datetime)."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    return datetime.combine(local.date().replace(day=1), time(), tzinfo=zone)


def finance_summary(access: Access, now: datetime, timezone: str) -> FinanceSummary:
    """Drafts to finalize, open and overdue invoices with their amounts, and this month's
    invoiced total, for finance (and owners): the agency in context."""
    rates.require_billing(access)
    start = month_start(now, timezone)
    is_invoice = Invoice.kind == InvoiceKind.INVOICE.value
    open_ = is_invoice & (Invoice.status == InvoiceStatus.OPEN.value)
    overdue = open_ & (Invoice.due_at < now)
    this_month = Invoice.status.in_(ISSUED) & (Invoice.issued_at >= start)
    draft = is_invoice & (Invoice.status == InvoiceStatus.DRAFT.value)

    def counted(condition):  # noqa: ANN001, ANN202
        return (
            func.sum(case((condition, 1), else_=0)),
            func.sum(case((condition, Invoice.total), else_=0)),
        )

    buckets = {name: Bucket() for name in ("drafts", "open", "overdue", "month")}
    conditions = {"drafts": draft, "open": open_, "overdue": overdue, "month": this_month}
    columns = [column for condition in conditions.values() for column in counted(condition)]
    rows = db.session.execute(
        select(Invoice.currency, *columns)
        .where(Invoice.status != InvoiceStatus.VOID.value)
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    ).all()
    for currency, *values in rows:
        for n, name in enumerate(conditions):
            count, total = int(values[2 * n] or 0), int(values[2 * n + 1] or 0)
            if count:
                buckets[name].add(currency, count, total)
    draft_list, _more = invoices.list_invoices(
        access, status=InvoiceStatus.DRAFT.value, kind=InvoiceKind.INVOICE.value, limit=LIST_LIMIT
    )
    overdue_list = list(
        db.session.scalars(
            select(Invoice).where(overdue).order_by(Invoice.due_at, Invoice.id).limit(LIST_LIMIT)
        )
    )
    return FinanceSummary(
        drafts=buckets["drafts"],
        open=buckets["open"],
        overdue=buckets["overdue"],
        issued_this_month=buckets["month"],
        month=start.date(),
        draft_list=draft_list,
        overdue_list=overdue_list,
    )
