"""One rule for every human-given name (agencies, clients, people, channels, API tokens).

A name is refused when it is empty once whitespace and zero-width characters are stripped,
or when it contains a control character (category Cc: tabs, newlines, escapes...). The
same rule is published in the OpenAPI document as ``NAME_PATTERN`` so generated clients and
fuzzers see exactly what the server enforces.
"""

from __future__ import annotations

import unicodedata

from flask_babel import gettext as _

# What str.strip() removes, plus the invisible characters it keeps (zero-width space,
# joiners, word joiner, byte-order mark, direction marks).
ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
BLANK = (
    " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000" + ZERO_WIDTH
)
_CONTROL_RANGE = "\\u0000-\\u001f\\u007f-\\u009f"
_BLANK_CLASS = "".join(f"\\u{ord(c):04x}" for c in BLANK)
# ECMA-262 regex (OpenAPI's dialect), written with explicit ranges so that every dialect
# reads it alike: no control character anywhere, at least one visible character.
NAME_PATTERN = f"^[^{_CONTROL_RANGE}]*[^{_CONTROL_RANGE}{_BLANK_CLASS}][^{_CONTROL_RANGE}]*$"


class InvalidName(ValueError):
    """The name is refused; the message is user-facing."""


def has_control_character(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def clean_name(value: object, max_length: int, *, required: bool = True) -> str | None:
    """``value`` stripped of blanks at both ends; raises ``InvalidName`` when it is refused.

    Returns None for an empty optional value.
    """
    text = "" if value is None else str(value)
    if has_control_character(text):
        raise InvalidName(_("Names cannot contain control characters such as tabs or newlines."))
    # Python's whitespace plus the zero-width characters it does not count as whitespace.
    text = text.strip().strip(BLANK).strip()
    if not text:
        if required:
            raise InvalidName(_("Enter a name (spaces and invisible characters do not count)."))
        return None
    if len(text) > max_length:
        raise InvalidName(_("Use at most %(n)d characters.", n=max_length))
    return text
