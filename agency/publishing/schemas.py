"""marshmallow schemas of the publishing actions API (a post's targets)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from agency.channels.manual import MAX_URL


class ManualPublicationIn(Schema):
    # The link rule itself is the service's (manual.clean_url), the same as the web form's:
    # a pattern here would read differently in a JSON-schema engine than in Python's re.
    url = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_URL),
        metadata={
            "description": "Where the post was published by hand: an absolute `https://` or "
            "`http://` link with a host, without spaces (422 otherwise)."
        },
    )
