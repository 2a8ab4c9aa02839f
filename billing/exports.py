"""What every finance export shares: minor units as decimal strings, and the typed refusal.

``ExportRefused`` is a ``ValidationFailed``: the API answers 422 with the fields named
(``seller.vat_id``, ``buyer.sdi_code``), the web pages show the messages in a form.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from agency.errors import ValidationFailed


class ExportRefused(ValidationFailed):
    """The document lacks data the format needs; ``errors`` names each missing field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        fields = ", ".join(sorted(errors))
        super().__init__(errors, f"Cannot export this document: check {fields}.")


@cache
def minor_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (EUR 2, JPY 0, KWD 3), per CLDR."""
    from babel.numbers import get_currency_precision

    return get_currency_precision(currency.upper())


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """``12345`` EUR → ``Decimal("123.45")``; exact (no float anywhere)."""
    exponent = minor_exponent(currency)
    return Decimal(amount_minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def decimal_string(amount_minor: int, currency: str) -> str:
    """The amount as a plain decimal string with the currency's digits: ``"123.45"``."""
    return f"{to_decimal(amount_minor, currency):f}"
