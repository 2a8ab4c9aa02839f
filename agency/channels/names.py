"""Channel names are unique per client, ignoring case and surrounding spaces."""

from __future__ import annotations

import uuid

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agency.channels.models import NAME_INDEX, Channel
from agency.db import db
from agency.errors import ValidationFailed


def _name_taken_error() -> ValidationFailed:
    return ValidationFailed({"name": [_("This client already has a channel with this name.")]})


def check_name_free(client_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None) -> None:
    """Channel names are unique per client, ignoring case (the index backs this up)."""
    others = db.session.execute(
        select(Channel.id, Channel.name).where(Channel.client_id == client_id)
    )
    if any(row.id != exclude and row.name.casefold() == name.casefold() for row in others):
        raise _name_taken_error()


def commit() -> None:
    """Commit; a concurrent save that took the same name becomes the same field error."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if NAME_INDEX in str(exc.orig):
            raise _name_taken_error() from exc
        raise
