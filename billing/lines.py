"""Invoice lines and totals as plain data: the arithmetic, without the database.

Each line's amount is ``quantity × unit_amount`` rounded half-up to a minor unit; VAT is
computed per rate bucket on the sum of that bucket's lines, rounded half-up; the total is
the lines plus the VAT of every bucket. Hours are billed in hundredths of an hour.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _

from billing.models import LineKind
from billing.money import percent_of, round_minor

HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class Line:
    kind: str
    description: str
    quantity: Decimal
    unit_amount: int
    amount: int
    vat_rate: Decimal


@dataclass(frozen=True)
class Totals:
    subtotal: int
    tax: int
    total: int
    buckets: tuple[tuple[Decimal, int, int], ...]  # (rate, taxable, vat), by rate


def make_line(
    kind: str, description: str, quantity: Decimal | int, unit_amount: int, vat_rate: Decimal
) -> Line:
    quantity = Decimal(quantity).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)
    amount = round_minor(quantity * unit_amount)
    return Line(kind, description, quantity, unit_amount, amount, Decimal(vat_rate))


def hours_of(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)


def usage_lines(card, posts: int, replies: int, minutes: int) -> list[Line]:  # noqa: ANN001
    """The lines a period's work earns under ``card`` (a RateCard or anything shaped like one).

    Descriptions use the locale in force (the caller forces the client's language).
    """
    vat = Decimal(card.vat_rate)
    lines: list[Line] = []
    if card.monthly_retainer:
        lines.append(
            make_line(LineKind.RETAINER, _("Monthly retainer"), 1, card.monthly_retainer, vat)
        )
    included = min(posts, card.posts_included)
    extra = posts - included
    if included:
        lines.append(
            make_line(
                LineKind.POSTS,
                _(
                    "Posts included in the retainer (%(n)s of %(of)s)",
                    n=included,
                    of=card.posts_included,
                ),
                included,
                0,
                vat,
            )
        )
    if extra:
        lines.append(
            make_line(LineKind.EXTRA_POSTS, _("Extra posts"), extra, card.price_per_post, vat)
        )
    if replies:
        lines.append(make_line(LineKind.REPLIES, _("Replies"), replies, card.price_per_reply, vat))
    if minutes:
        lines.append(
            make_line(LineKind.HOURS, _("Hours of work"), hours_of(minutes), card.hourly_rate, vat)
        )
    return lines


def totals(lines: list[Line]) -> Totals:
    taxable: dict[Decimal, int] = defaultdict(int)
    for line in lines:
        taxable[Decimal(line.vat_rate).normalize()] += line.amount
    buckets = tuple(
        (rate, amount, percent_of(amount, rate)) for rate, amount in sorted(taxable.items())
    )
    subtotal = sum(line.amount for line in lines)
    tax = sum(vat for _rate, _taxable, vat in buckets)
    return Totals(subtotal, tax, subtotal + tax, buckets)


def negated(line: Line) -> Line:
    """The credit-note counterpart of a line: same quantity, negative price and amount."""
    return replace(line, unit_amount=-line.unit_amount, amount=-line.amount)
