"""Hand-written JSON for the API's hot read paths (lists), instead of a marshmallow dump.

A marshmallow dump of a 50-item list costs more than the request's SQL. The hot lists build
plain dicts here and return the response themselves (flask-smorest passes a ``Response``
through and still documents the operation's schema); ``tests/test_api_json_out.py`` checks
that each hand-written object equals what the schema dumps.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import Response, current_app


def iso(value: datetime | None) -> str | None:
    """A datetime as marshmallow's ``DateTime`` dumps it (ISO 8601)."""
    return None if value is None else value.isoformat()


def uid(value: uuid.UUID | None) -> str | None:
    """A UUID as marshmallow's ``UUID`` dumps it."""
    return None if value is None else str(value)


def json_response(payload: dict, status: int = 200) -> Response:
    """What flask-smorest's ``@blp.response`` builds from a dumped payload (``jsonify``)."""
    response = current_app.json.response(payload)
    response.status_code = status
    return response
