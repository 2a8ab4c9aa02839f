"""marshmallow fields that publish in the OpenAPI document exactly the rule they enforce."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from email_validator import EmailNotValidError, validate_email
from marshmallow import ValidationError, fields, validate

from tenants.names import NAME_PATTERN, InvalidName, clean_name

MAX_EMAIL_LENGTH = 320


def _special_use_domains_pattern() -> str:
    """No address under a special-use domain (``.test``, ``.local``...), which
    ``email-validator`` refuses; spelled without flags so every regex dialect agrees."""
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    names = "|".join(
        "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in name)
        for name in SPECIAL_USE_DOMAIN_NAMES
    )
    return f"^(?![\\s\\S]*\\.(?:{names})$)"


EMAIL_PATTERN = _special_use_domains_pattern()


def name_field(max_length: int, **kwargs: Any) -> fields.String:
    """A human-given name (``tenants.names``): the pattern and lengths are in the spec."""

    def check(value: str) -> None:
        try:
            clean_name(value, max_length)
        except InvalidName as exc:
            raise ValidationError(str(exc)) from exc

    metadata = {**kwargs.pop("metadata", {}), "pattern": NAME_PATTERN}
    return fields.String(
        validate=[validate.Length(min=1, max=max_length), check], metadata=metadata, **kwargs
    )


def _check_email(value: str) -> None:
    if value == "":
        return  # only reachable for optional fields (see email_field): blank means none
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError("Not a valid e-mail address.") from exc


def email_field(**kwargs: Any) -> fields.String:
    """An e-mail address, checked as the services check it (``email-validator``).

    Optional ones (``allow_none``) also take "" for none, as forms send it."""
    metadata = dict(kwargs.pop("metadata", {}))
    checks: list = [validate.Length(max=MAX_EMAIL_LENGTH), _check_email]
    if kwargs.get("allow_none"):
        metadata["anyOf"] = [{"format": "email", "pattern": EMAIL_PATTERN}, {"maxLength": 0}]
    else:
        metadata["format"] = "email"
        metadata["pattern"] = EMAIL_PATTERN
        checks.insert(0, validate.Length(min=1, max=MAX_EMAIL_LENGTH))
    return fields.String(validate=checks, metadata=metadata, **kwargs)


def choice_field(choices: Iterable[str], **kwargs: Any) -> fields.String:
    """One of ``choices``; the list is the spec's ``enum``."""
    return fields.String(validate=validate.OneOf([str(c) for c in choices]), **kwargs)


NAIVE_TIME = "Give the time with its UTC offset, e.g. 2027-01-01T10:00:00+01:00 or ...Z."


def moment_field(**kwargs: Any) -> fields.AwareDateTime:
    """A moment in time as RFC 3339 (the spec's ``date-time``): with its UTC offset. A time
    without one is refused, not read as UTC: "10:00" for a client in Rome is 09:00 UTC."""
    metadata = {**kwargs.pop("metadata", {})}
    metadata.setdefault("description", "ISO 8601 / RFC 3339, with its UTC offset.")
    return fields.AwareDateTime(
        error_messages={"invalid_awareness": NAIVE_TIME}, metadata=metadata, **kwargs
    )
