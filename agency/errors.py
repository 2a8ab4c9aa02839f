"""Domain errors raised by services and mapped to HTTP by the delivery layer."""

from __future__ import annotations


class DomainError(Exception):
    http_status = 400

    def __init__(self, message: str, errors: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    """Input is well-formed but invalid; ``errors`` maps field names to messages."""

    http_status = 422
    DEFAULT_MESSAGE = "Validation failed."  # the API words it from the errors (web.api_errors)

    def __init__(
        self,
        errors: dict[str, list[str]],
        message: str = DEFAULT_MESSAGE,
        *,
        location: str = "json",
    ) -> None:
        super().__init__(message, errors)
        self.location = location  # where the API reports the fields: json, query, path


class NotFound(DomainError):
    http_status = 404


class PermissionDenied(DomainError):
    http_status = 403


class IllegalTransition(DomainError):
    http_status = 409


def error_messages(errors: dict | list | str) -> list[str]:
    """Every message in ``errors``, in order, without the keys: field names and the channel ids
    a post's per-channel problems are keyed by are for the API, and each message names its
    channel already."""
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in error_messages(value)]
    if isinstance(errors, list | tuple):
        return [m for value in errors for m in error_messages(value)]
    return [str(errors)]


def describe(exc: DomainError) -> str:
    """One sentence for a flash message: the field messages, else the error's own message."""
    return " ".join(error_messages(exc.errors)) or exc.message
