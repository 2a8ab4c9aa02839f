"""Keyset pagination cursors: opaque base64url JSON arrays, decoded strictly.

A cursor comes back from the client, so it is untrusted input: anything that is not exactly
what ``encode_cursor`` produced for the same ``kinds`` (too long, not base64, not UTF-8, not
a JSON array of the right length and types, NUL or lone surrogates inside) is a
``BadCursor``, which the API reports as a 422 under ``errors.query.cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields

MAX_CURSOR_LENGTH = 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class BadCursor(ValueError):
    """The cursor was not made by ``encode_cursor`` with these kinds."""


def encode_cursor(*values: str | uuid.UUID) -> str:
    raw = json.dumps([str(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> tuple:
    """The values ``encode_cursor`` was given, typed as ``kinds`` (``str`` or ``uuid.UUID``)."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _BASE64URL.fullmatch(cursor):
        raise BadCursor(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor.rstrip("=") + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError) as exc:
        raise BadCursor(cursor) from exc
    if not isinstance(values, list) or len(values) != len(kinds):
        raise BadCursor(cursor)
    return tuple(_typed(value, kind, cursor) for value, kind in zip(values, kinds, strict=True))


def _typed(value: object, kind: type, cursor: str) -> object:
    if not isinstance(value, str) or "\x00" in value:
        raise BadCursor(cursor)
    try:
        value.encode("utf-8")  # lone surrogates (JSON "\ud800") cannot be stored or compared
        return uuid.UUID(value) if kind is uuid.UUID else value
    except ValueError as exc:
        raise BadCursor(cursor) from exc


class Cursor(fields.String):
    """A query argument holding a cursor of ``kinds``; a tampered one is a field error."""

    def __init__(self, kinds: Sequence[type], **kwargs: object) -> None:
        kwargs.setdefault(
            "metadata", {"description": "`next_cursor` of the previous page, unchanged."}
        )
        super().__init__(**kwargs)
        self.kinds = tuple(kinds)

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN003, ANN202
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            decode_cursor(text, self.kinds)
        except BadCursor as exc:
            raise ValidationError(str(_l("This cursor is not valid."))) from exc
        return text
