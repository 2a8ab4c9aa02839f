"""The current agency: a ContextVar set by request resolution, job wrappers and CLI commands.

Never read from anything the client controls directly; the web layer resolves it from the
URL *after* checking membership, the API from the bearer token.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current_agency: ContextVar[uuid.UUID | None] = ContextVar("regia_current_agency", default=None)


class TenantError(RuntimeError):
    """A write would cross the tenant boundary, or a tenant write happened with no tenant."""


def current_agency_id() -> uuid.UUID | None:
    return _current_agency.get()


def set_current_agency(agency_id: uuid.UUID | None):  # noqa: ANN201 - returns a Token
    """Set the agency for the rest of this context; returns a token for ``reset_current_agency``."""
    return _current_agency.set(agency_id)


def reset_current_agency(token) -> None:  # noqa: ANN001
    _current_agency.reset(token)


@contextmanager
def tenant_context(agency_id: uuid.UUID | None) -> Iterator[None]:
    """Run a block as agency ``agency_id`` (jobs, CLI, tests)."""
    token = _current_agency.set(agency_id)
    try:
        yield
    finally:
        _current_agency.reset(token)
