"""A client company's details: the fields a manager edits, their validation as a whole, the
defaults a new client starts with, and the warning about another client with the same VAT id.

No permission checks here: ``service`` checks the caller's ``Access`` before it uses these.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from sqlalchemy import select

from agency.clients import validation as v
from agency.db import db
from agency.errors import ValidationFailed
from tenants.models import ClientCompany
from tenants.names import InvalidName, clean_name
from tenants.permissions import Access

EDITABLE_FIELDS = (
    "name",
    "legal_name",
    "country",
    "vat_number",
    "fiscal_code",
    "address",
    "postal_code",
    "city",
    "province",
    "billing_email",
    "sdi_code",
    "pec",
    "currency",
    "timezone",
    "language",
)


def validate_details(data: Mapping[str, object]) -> dict[str, object]:
    """Every editable field normalised; raises ValidationFailed with all field errors at once."""
    errors: dict[str, list[str]] = {}
    out: dict[str, object] = {}

    def run(field: str, fn, *args) -> None:  # noqa: ANN001
        try:
            out[field] = fn(data.get(field), *args)
        except (v.FieldError, InvalidName) as exc:
            errors[field] = [str(exc)]

    run("name", clean_name, 200)
    run("legal_name", v.clean_text, 300)
    run("address", v.clean_text, 500)
    run("city", v.clean_text, 100)
    run("country", v.clean_country)
    country = out.get("country") if "country" not in errors else None
    if "country" not in errors:
        run("vat_number", v.clean_vat, country)
        run("fiscal_code", v.clean_fiscal_code, country)
        run("postal_code", v.clean_postal_code, country)
        run("province", v.clean_province, country)
    run("billing_email", v.clean_email)
    run("pec", v.clean_email)
    run("sdi_code", v.clean_sdi)
    run("currency", v.clean_currency)
    run("timezone", v.clean_timezone)
    run("language", v.clean_language)
    if not errors.keys() & {"country", "sdi_code", "pec"}:
        sdi, pec = out.get("sdi_code"), out.get("pec")
        if country == "IT" and not sdi and not pec:
            errors["sdi_code"] = [_("Italian clients need an SDI code or a PEC address.")]
        elif sdi == v.SDI_PEC_ONLY and not pec:
            errors["pec"] = [_("The SDI code 0000000 needs a PEC address.")]
    if errors:
        raise ValidationFailed(errors)
    return out


def client_defaults(access: Access) -> dict[str, str]:
    """What a new client starts with: the agency's currency, time zone and language."""
    agency = access.agency
    timezone = agency.timezone
    if timezone not in v.timezones():
        timezone = v.canonical_timezone(timezone) or "UTC"
    language = agency.default_locale if agency.default_locale in v.LANGUAGES else "en"
    currency = agency.default_currency if agency.default_currency in v.currencies() else "EUR"
    return {"currency": currency, "timezone": timezone, "language": language}


def vat_warnings(client: ClientCompany) -> list[str]:
    """A warning naming another client with the same VAT id (allowed: two brands of one
    company), or nothing."""
    if not client.vat_number:
        return []
    other = db.session.scalar(
        select(ClientCompany.name)
        .where(ClientCompany.vat_number == client.vat_number, ClientCompany.id != client.id)
        .order_by(ClientCompany.name)
        .limit(1)
    )
    if other is None:
        return []
    return [
        _(
            "%(other)s has the same VAT id (%(vat)s). Saved anyway: check it is not a duplicate.",
            other=other,
            vat=client.vat_number,
        )
    ]
