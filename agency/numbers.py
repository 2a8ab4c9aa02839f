"""Numbers as people type them into web forms: read and written in the request's locale.

An Italian writes ``1.234,50`` and an English reader ``1,234.50``; a form field that takes an
amount, a rate or a quantity reads the text with babel's strict parser in the page's locale
(``read_number``) and shows a stored value back the same way (``write_number``), so a form
saved unchanged reads back what it showed. Text that could mean two numbers (``12.50`` on an
Italian page: twelve and a half, or one thousand two hundred and fifty?) is refused with the
readings spelled out, never guessed. The JSON API does not come here: it keeps its formats.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.lists import format_list
from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as _

# What a typed number may contain: a sign, digits and the two separators. Everything else
# Decimal or babel would also take ("1e3", "NaN", "1_000", non-ASCII digits) is refused.
_TYPED = re.compile(r"^[+-]?[0-9.,]+$")
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-"})  # a typographic minus is still a minus


class UnreadableNumber(ValueError):
    """Text that is not one number in the locale; ``message`` says how to write it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _locale(locale: str | None) -> str:
    return locale or str(get_locale() or "en")


def _pattern(places: int | None) -> str:
    """Grouped, with exactly ``places`` decimals (None: as many as the value has, up to 6)."""
    if places is None:
        return "#,##0.######"
    return "#,##0" + ("." + "0" * places if places else "")


def write_number(value: Decimal | int, places: int | None = None, locale: str | None = None) -> str:
    """``Decimal("1500.5")``, 2 -> ``"1.500,50"`` (it) / ``"1,500.50"`` (en)."""
    return format_decimal(Decimal(value), _pattern(places), locale=_locale(locale))


def read_number(
    text: str,
    *,
    example: Decimal,
    places: int | None = None,
    amount: bool = False,
    invalid: str | None = None,
    locale: str | None = None,
) -> Decimal:
    """The number ``text`` means in the locale; raises UnreadableNumber with a message that
    shows ``example`` written the locale's way (and the possible readings of ambiguous text).

    ``places``: decimals the examples and readings are shown with (2 for euro amounts);
    ``invalid``: the field's own message for text that is no number at all.
    """
    locale = _locale(locale)
    typed = (text or "").strip().translate(_MINUS)
    if _TYPED.match(typed):
        try:
            return parse_decimal(typed, locale=locale, strict=True)
        except NumberFormatError as exc:
            readings = _readings(getattr(exc, "suggestions", None) or [], places, locale)
            if readings:
                raise UnreadableNumber(
                    _(
                        "“%(typed)s” is not clear: did you mean %(readings)s?",
                        typed=typed,
                        readings=format_list(readings, style="or", locale=locale),
                    )
                ) from exc
    if invalid is not None:
        raise UnreadableNumber(invalid)
    shown = write_number(example, places, locale)
    if amount:
        raise UnreadableNumber(_("Enter an amount such as %(example)s.", example=shown))
    raise UnreadableNumber(_("Enter a number such as %(example)s.", example=shown))


def _readings(suggestions: list[str], places: int | None, locale: str) -> list[str]:
    """Babel's suggestions, written as the field shows numbers, without repeats."""
    out: list[str] = []
    for suggestion in suggestions:
        try:
            value = parse_decimal(suggestion, locale=locale, strict=True)
            shown = write_number(value, places, locale)
        except NumberFormatError:
            continue
        if shown not in out:
            out.append(shown)
    return out


def init_app(app: Flask) -> None:
    """``{{ value|number }}``: a quantity, rate or hours as the page's language writes it."""
    app.add_template_filter(lambda value, places=None: write_number(value, places), "number")
