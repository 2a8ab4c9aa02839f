"""Totals per month as a small server-rendered SVG bar chart (no script, CSP-safe).

The SVG holds only the bars: the months under them are page text (``billing/index.html``),
readable at any width; SVG text scales down with the chart (about 6 px on a phone)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import func, select

from agency.db import db
from billing.models import Invoice, InvoiceStatus
from billing.money import display_money

MONTHS = 12
MIN_SLOTS = 6  # a chart of one or two months keeps bars of a monthly width, from the left
WIDTH, HEIGHT, BAR_GAP, TOP, BOTTOM = 600, 160, 6, 16, 0


@dataclass(frozen=True)
class Chart:
    currency: str
    svg: Markup
    rows: list[tuple[str, int]]  # (period, total): the same data as a table
    empty_slots: int = 0  # columns after the last month (the axis under the bars keeps them)


def monthly_totals() -> dict[str, list[tuple[str, int]]]:
    """Net of finalized invoices and credit notes per period, per currency, last 12 periods."""
    rows = db.session.execute(
        select(Invoice.currency, Invoice.period, func.sum(Invoice.total))
        .where(
            Invoice.status.in_(
                [InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE]
            )
        )
        .group_by(Invoice.currency, Invoice.period)
        .order_by(Invoice.currency, Invoice.period)
    ).all()
    out: dict[str, list[tuple[str, int]]] = {}
    for currency, period, total in rows:
        out.setdefault(currency, []).append((period, int(total or 0)))
    return {currency: series[-MONTHS:] for currency, series in out.items()}


def svg(series: list[tuple[str, int]], currency: str) -> Markup:
    top = max([total for _p, total in series] + [1])
    bar = (WIDTH - BAR_GAP) / max(len(series), MIN_SLOTS) - BAR_GAP
    plot = HEIGHT - TOP - BOTTOM
    title = _("Invoiced per month (%(currency)s)", currency=currency)
    parts = [
        f'<svg class="billing-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for index, (period, total) in enumerate(series):
        height = max(round(plot * max(total, 0) / top), 1 if total else 0)
        x = BAR_GAP + index * (bar + BAR_GAP)
        y = TOP + plot - height
        label = escape(f"{period}: {display_money(total, currency)}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{bar:.1f}" height="{height}" fill="#0b5ed7">'
            f"<title>{label}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped


def monthly_totals_svgs() -> list[Chart]:
    return [
        Chart(currency, svg(series, currency), series, max(MIN_SLOTS - len(series), 0))
        for currency, series in monthly_totals().items()
    ]
