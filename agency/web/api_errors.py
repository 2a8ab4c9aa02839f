"""One way to word an API refusal, in the caller's language (``Accept-Language``).

Every 400/422 body has the same ``message``: the problem itself when there is one, else how
many there are (the details are under ``errors``, keyed by location and field). The messages
marshmallow and webargs word themselves ("Missing data for required field.") are translated
like Regia's own, so an Italian caller does not get half of a refusal in English.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from agency.errors import error_messages

#: The library messages a caller can meet, as marshmallow and webargs spell them.
_LIBRARY_MESSAGES = {
    "Missing data for required field.": _l("Missing data for required field."),
    "Field may not be null.": _l("Field may not be null."),
    "Invalid value.": _l("Invalid value."),
    "Unknown field.": _l("Unknown field."),
    "Invalid input type.": _l("Invalid input type."),
    "Invalid type.": _l("Invalid type."),
    "Invalid JSON body.": _l("The body is not valid JSON."),
    "Not a valid string.": _l("Not a valid string."),
    "Not a valid utf-8 string.": _l("Not a valid UTF-8 string."),
    "Not a valid UUID.": _l("Not a valid UUID."),
    "Not a valid integer.": _l("Not a valid integer."),
    "Not a valid number.": _l("Not a valid number."),
    "Number too large.": _l("Number too large."),
    "Not a valid boolean.": _l("Not a valid boolean."),
    "Not a valid datetime.": _l("Not a valid date and time."),
    "Not a valid date.": _l("Not a valid date."),
    "Not a valid list.": _l("Not a valid list."),
    "Not a valid mapping type.": _l("Not a valid object."),
    "Not a valid email address.": _l("Not a valid e-mail address."),
    "Not a valid URL.": _l("Not a valid URL."),
    "Special numeric values (nan or infinity) are not permitted.": _l(
        "Special numeric values (nan or infinity) are not permitted."
    ),
}


def translated(errors: object) -> object:
    """``errors`` (a dict/list tree of messages) with the library's messages translated."""
    if isinstance(errors, dict):
        return {key: translated(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [translated(value) for value in errors]
    if isinstance(errors, str) and errors in _LIBRARY_MESSAGES:
        return str(_LIBRARY_MESSAGES[errors])
    return errors


def summary(errors: object, fallback: str) -> str:
    """The refusal's one-line ``message``: its only problem, or how many (see ``errors``)."""
    messages = error_messages(errors) if errors else []
    if len(messages) == 1:
        return messages[0]
    if messages:
        return ngettext(
            "%(num)d problem with the request: see errors.",
            "%(num)d problems with the request: see errors.",
            len(messages),
        )
    return fallback
