"""The schema field builders of ``tenants.fields``: what each field refuses (every message, in
order) and what it publishes in the OpenAPI document.

The builders run while the schema modules are imported, so these tests call them again here:
a test that only loads a real schema cannot tell a broken builder from a working one under
mutmut (the schemas were built before any mutant was active)."""

from __future__ import annotations

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from marshmallow import Schema

from tenants.fields import (
    EMAIL_PATTERN,
    _special_use_domains_pattern,
    choice_field,
    email_field,
    name_field,
)
from tenants.names import NAME_PATTERN

ENTER_A_NAME = "Enter a name (spaces and invisible characters do not count)."
NO_CONTROL = "Names cannot contain control characters such as tabs or newlines."
NOT_AN_ADDRESS = "Not a valid e-mail address."


def _errors(field, value) -> list[str] | None:
    """The messages ``field`` gives for ``value`` (None when it accepts it)."""

    schema = Schema.from_dict({"value": field})()
    return schema.validate({"value": value}).get("value")


def _email_validator_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def test_the_email_pattern_refuses_every_special_use_domain_in_any_case():
    pattern = re.compile(_special_use_domains_pattern())
    assert _special_use_domains_pattern() == EMAIL_PATTERN
    assert set(SPECIAL_USE_DOMAIN_NAMES) >= {"arpa", "invalid", "local", "localhost", "test"}
    for name in SPECIAL_USE_DOMAIN_NAMES:
        for domain in (name, name.upper(), name.capitalize()):
            address = f"ann@shop.{domain}"
            assert pattern.match(address) is None, address
            assert not _email_validator_accepts(address), address
    for address in ("ann@example.com", "ann@test.example.com", "ann@shop.testing", "a@b.co"):
        assert pattern.match(address) is not None, address
        assert _email_validator_accepts(address), address


def test_a_name_field_refuses_with_the_names_rule_and_its_lengths():
    field = name_field(5)
    assert _errors(field, "Ann") is None
    assert _errors(field, "A") is None
    assert _errors(field, "  Anna  ") == ["Length must be between 1 and 5."]
    assert _errors(field, "Annabel") == [
        "Length must be between 1 and 5.",
        "Use at most 5 characters.",
    ]
    assert _errors(field, "") == ["Length must be between 1 and 5.", ENTER_A_NAME]
    assert _errors(field, " \u200b ") == [ENTER_A_NAME]
    assert _errors(field, "A\tB") == [NO_CONTROL]


def test_a_name_field_publishes_its_pattern_with_the_callers_metadata_and_options():
    field = name_field(100, load_default="API token", metadata={"description": "Shown in lists."})
    assert field.metadata == {"description": "Shown in lists.", "pattern": NAME_PATTERN}
    assert field.load_default == "API token"
    required = name_field(200, required=True)
    assert required.metadata == {"pattern": NAME_PATTERN}
    assert required.required is True
    assert _errors(required, "x" * 200) is None


def test_a_required_email_field_refuses_blank_long_and_invalid_addresses_in_order():
    field = email_field(required=True)
    assert field.required is True
    assert _errors(field, "ann@example.com") is None
    assert _errors(field, "") == ["Length must be between 1 and 320."]
    assert _errors(field, "ann@shop.test") == [NOT_AN_ADDRESS]
    long = "a" * 64 + "@" + ".".join(["b" * 60] * 5) + ".com"
    assert len(long) > 320
    assert _errors(field, long) == [
        "Length must be between 1 and 320.",
        "Longer than maximum length 320.",
        NOT_AN_ADDRESS,
    ]


def test_an_optional_email_field_takes_blank_and_none_for_no_address():
    field = email_field(allow_none=True)
    assert field.allow_none is True
    assert _errors(field, "") is None
    assert _errors(field, None) is None
    assert _errors(field, "ann@example.com") is None
    assert _errors(field, "ann@shop.local") == [NOT_AN_ADDRESS]
    assert _errors(field, "a" * 321) == ["Longer than maximum length 320.", NOT_AN_ADDRESS]


def test_an_email_field_looks_nothing_up_in_the_dns(monkeypatch):
    # Deliverability checks would put a DNS lookup (and its timeouts) into every request.
    import email_validator.deliverability

    def lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("an e-mail field looked the domain up in the DNS")

    monkeypatch.setattr(email_validator.deliverability, "validate_email_deliverability", lookup)
    assert _errors(email_field(required=True), "ann@example.com") is None
    assert _errors(email_field(allow_none=True), "ann@example.com") is None


def test_email_fields_publish_the_format_and_pattern_they_enforce():
    required = email_field(required=True, metadata={"description": "Sign-in address."})
    assert required.metadata == {
        "description": "Sign-in address.",
        "format": "email",
        "pattern": EMAIL_PATTERN,
    }
    optional = email_field(allow_none=True, metadata={"description": "Invoices go here."})
    assert optional.metadata == {
        "description": "Invoices go here.",
        "anyOf": [{"format": "email", "pattern": EMAIL_PATTERN}, {"maxLength": 0}],
    }
    assert email_field().metadata == {"format": "email", "pattern": EMAIL_PATTERN}


def test_a_choice_field_takes_only_its_choices_and_lists_them():
    field = choice_field(["owner", "staff"], required=True)
    assert field.required is True
    assert _errors(field, "staff") is None
    assert _errors(field, "None") == ["Must be one of: owner, staff."]
    assert _errors(field, "manager") == ["Must be one of: owner, staff."]


def test_the_api_document_publishes_exactly_what_the_fields_enforce(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    email = {"format": "email", "pattern": EMAIL_PATTERN}
    name = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN}
    assert schemas["SignupIn"]["properties"]["email"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 320,
        **email,
    }
    assert schemas["SignupIn"]["properties"]["agency_name"] == name
    assert schemas["ChannelIn"]["properties"]["name"] == name
    assert schemas["TokenIn"]["properties"]["name"] == {
        **name,
        "maxLength": 100,
        "default": "API token",
    }
    assert schemas["ClientCreateIn"]["properties"]["billing_email"] == {
        "type": "string",
        "maxLength": 320,
        "anyOf": [email, {"maxLength": 0}],
        "nullable": True,
    }
    assert schemas["InvitationIn"]["properties"]["role"] == {
        "type": "string",
        "enum": ["owner", "manager", "staff", "finance", "client_manager", "client_viewer"],
    }
