"""Refuse input no database column can hold, before any view, lookup or tenant resolution.

PostgreSQL text never holds NUL (U+0000) and UTF-8 cannot encode lone surrogates (which JSON
escapes like ``"\\ud800"`` produce); either would otherwise surface as a 500 from the first
query that touches the value, even a lookup. Deeply nested JSON would exhaust the decoder's
recursion. All three answer 400 with the offending field named.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Flask, abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_smorest import abort as api_abort

from agency.extensions import wants_json

MAX_JSON_DEPTH = 32


def init_app(app: Flask) -> None:
    # Registered before tenant resolution: the agency slug in the URL is input too.
    app.before_request(reject_unstorable_input)


def unstorable(value: str) -> bool:
    """True when ``value`` has a NUL character or cannot be encoded as UTF-8."""
    if not isinstance(value, str):  # odd multipart parts parse to None: nothing to store
        return False
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _strings(value: object, path: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    if depth > MAX_JSON_DEPTH:
        raise _TooDeep(path)
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from _strings(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}" if path else str(index), depth + 1)


class _TooDeep(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _refuse(location: str, field: str, message: str) -> None:
    if wants_json():
        api_abort(400, message=message, errors={location: {field or "_schema": [message]}})
    abort(make_response(render_template("errors/error.html", message=message), 400))


def _bad_character(location: str, field: str) -> None:
    _refuse(
        location,
        field,
        _("The field %(field)s contains a character that is not allowed (NUL).", field=field)
        if field
        else _("The request contains a character that is not allowed (NUL)."),
    )


def _json_body() -> object:
    """The parsed JSON body, or None when absent or malformed (the API parser answers that)."""
    if not request.is_json:
        return None
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except RecursionError:
        _refuse("json", "", _("The JSON document is nested too deeply."))
    except ValueError:
        return None
    return None


def reject_unstorable_input() -> None:
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and unstorable(value):
            _bad_character("path", name)
    for location, data in (("query", request.args), ("form", request.form)):
        for key, values in data.lists():
            if unstorable(key):
                _bad_character(location, "")
            if any(unstorable(v) for v in values):
                _bad_character(location, key)
    try:
        for path, value in _strings(_json_body(), ""):
            if unstorable(value):
                _bad_character("json", path)
    except _TooDeep:
        _refuse("json", "", _("The JSON document is nested too deeply."))
