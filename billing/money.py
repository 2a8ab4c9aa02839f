"""Money: integer minor units plus an ISO 4217 currency; explicit half-up rounding.

Every amount the system stores or returns is an ``int`` of minor units (cents, yen);
rates and quantities are ``Decimal``. Rounding happens once per line (``round_minor``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Minor-unit exponent per currency (ISO 4217); currencies not listed have 2.
EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}
# The currencies rate cards may use: a small, known list rather than any three letters.
CURRENCIES: tuple[str, ...] = (
    "EUR",
    "USD",
    "GBP",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "RON",
    "CAD",
    "AUD",
    "JPY",
    "KWD",
)
MAX_MINOR = 10**13  # a sanity bound on any single amount (ten thousand billion cents)


class InvalidAmount(ValueError):
    """Text that is not an amount of money in the given currency."""


def exponent(currency: str) -> int:
    return EXPONENTS.get(currency.upper(), 2)


def round_minor(value: Decimal) -> int:
    """A Decimal amount of minor units rounded half-up to a whole minor unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount_minor: int, rate_percent: Decimal) -> int:
    """``rate_percent`` % of an amount, rounded half-up (VAT of a bucket)."""
    return round_minor(Decimal(amount_minor) * rate_percent / Decimal(100))


def to_minor(major: str | Decimal, currency: str) -> int:
    """``"1500.50"`` EUR -> ``150050``; more decimals than the currency has is an error."""
    try:
        value = Decimal(str(major).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise InvalidAmount(str(major)) from exc
    if not value.is_finite():
        raise InvalidAmount(str(major))
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(str(major))
    return int(scaled)


def to_major(amount_minor: int, currency: str) -> Decimal:
    exp = exponent(currency)
    return (Decimal(amount_minor).scaleb(-exp)).quantize(Decimal(1).scaleb(-exp))


def format_money(amount_minor: int | None, currency: str) -> str:
    """``150050, "EUR"`` -> ``"1,500.50 EUR"`` (plain, locale-neutral)."""
    if amount_minor is None:
        return ""
    return f"{to_major(amount_minor, currency):,} {currency}"


def display_money(amount_minor: int | None, currency: str) -> str:
    """The amount for a reader, in the request's locale: ``150050, "EUR"`` -> ``"1.500,50 €"``
    in Italian, ``"€1,500.50"`` in English. Machine formats (CSV, XML, JSON) never use it."""
    if amount_minor is None:
        return ""
    from flask_babel import format_currency

    return format_currency(to_major(amount_minor, currency), currency)
