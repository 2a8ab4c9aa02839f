"""Agency settings: identity, legal and fiscal details (printed on invoices), locale, logo.

VAT ids and fiscal codes are validated with python-stdnum for the agency's country; the
Italian tax regime (FatturaPA ``RegimeFiscale``) is required for Italian agencies.
"""

from __future__ import annotations

import uuid
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.numbers import list_currencies
from flask import current_app
from flask_babel import gettext as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import get_cc_module

from agency import audit
from agency.db import db
from agency.errors import PermissionDenied, ValidationFailed
from tenants.context import tenant_context
from tenants.models import Agency
from tenants.permissions import Access, Permission

SUPPORTED_LOCALES = ("en", "it")
# FatturaPA 1.2.2 RegimeFiscale (RF03 was withdrawn).
TAX_REGIMES = ("RF01", "RF02") + tuple(f"RF{n:02d}" for n in range(4, 20))
MAX_LOGO_BYTES = 1024 * 1024
_LOGO_KINDS = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}
FIELDS = (
    "name",
    "legal_name",
    "country",
    "vat_number",
    "fiscal_code",
    "address",
    "tax_regime",
    "default_locale",
    "timezone",
    "default_currency",
)


def ensure_manage_agency(access: Access) -> None:
    if not access.can(Permission.MANAGE_AGENCY):
        raise PermissionDenied(_("Your role does not allow changing the agency's settings."))


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    not_countries = {"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"}  # CLDR groupings, pseudo-regions
    return frozenset(
        k
        for k in Locale("en").territories
        if len(k) == 2 and k.isalpha() and k not in not_countries
    )


@lru_cache(maxsize=1)
def timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@lru_cache(maxsize=1)
def currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_vat(country: str | None, value: str) -> tuple[str | None, str | None]:
    """(normalized value, None) or (None, error message) for ``value`` in ``country``."""
    module = get_cc_module(country.lower(), "vat") if country else None
    if module is None:
        return value.strip().upper(), None
    try:
        return module.validate(value), None
    except StdnumError:
        return None, _("This is not a valid VAT id for %(country)s.", country=country)


def check_fiscal_code(country: str | None, value: str) -> tuple[str | None, str | None]:
    if country != "IT":
        return value.strip().upper(), None
    from stdnum.it import codicefiscale, iva

    for module in (codicefiscale, iva):  # a person's 16 characters or a company's 11 digits
        try:
            return module.validate(value), None
        except StdnumError:
            continue
    return None, _("This is not a valid Italian fiscal code (codice fiscale).")


def update_settings(access: Access, data: dict[str, Any], *, via: str = "web") -> Agency:
    """Validate every field first; on any error raise ``ValidationFailed`` and change nothing."""
    ensure_manage_agency(access)
    agency = access.agency
    values = {f: (data[f] if f in data else getattr(agency, f)) for f in FIELDS}
    values = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in values.items()}
    errors: dict[str, list[str]] = {}
    if not values["name"]:
        errors["name"] = [_("Enter the agency's name.")]
    for name, limit in (("name", 200), ("legal_name", 300), ("address", 500)):
        if values[name] and len(values[name]) > limit:
            errors[name] = [_("Use at most %(n)d characters.", n=limit)]
    country = (values["country"] or "").upper() or None
    if country and country not in country_codes():
        errors["country"] = [_("Choose a country.")]
        country = None
    values["country"] = country
    if values["vat_number"]:
        values["vat_number"], problem = check_vat(country, values["vat_number"])
        if problem:
            errors["vat_number"] = [problem]
    if values["fiscal_code"]:
        values["fiscal_code"], problem = check_fiscal_code(country, values["fiscal_code"])
        if problem:
            errors["fiscal_code"] = [problem]
    if values["tax_regime"] and values["tax_regime"] not in TAX_REGIMES:
        errors["tax_regime"] = [_("Choose a tax regime code (RF01–RF19).")]
    elif country == "IT" and not values["tax_regime"]:
        errors["tax_regime"] = [_("Italian agencies must choose their tax regime.")]
    if values["default_locale"] not in SUPPORTED_LOCALES:
        errors["default_locale"] = [_("Choose English or Italian.")]
    if values["timezone"] not in timezones():
        errors["timezone"] = [_("Choose a time zone such as Europe/Rome.")]
    values["default_currency"] = (values["default_currency"] or "").upper()
    if values["default_currency"] not in currencies():
        errors["default_currency"] = [_("Choose an ISO currency code such as EUR.")]
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in values.items() if getattr(agency, k) != v}
    for key, value in changed.items():
        setattr(agency, key, value)
    if changed:
        with tenant_context(agency.id):
            audit.record_by(
                access,
                "agency.settings_changed",
                subject_type="agency",
                subject_id=agency.id,
                via=via,
                fields=sorted(changed),
            )
            db.session.flush()  # stamped with the agency while it is in context
    db.session.commit()
    return agency


def logo_kind(content: bytes) -> str | None:
    for magic, ext in _LOGO_KINDS.items():
        if content.startswith(magic):
            return ext
    return None


def logo_path(agency: Agency) -> Path | None:
    if not agency.logo_filename:
        return None
    return current_app.config["REGIA"].media_root / agency.logo_filename


def save_logo(access: Access, content: bytes, *, via: str = "web") -> Agency:
    """Store a PNG or JPEG (≤ 1 MB, checked by its bytes, not its name) as the agency's logo."""
    ensure_manage_agency(access)
    if not content:
        raise ValidationFailed({"logo": [_("Choose an image file.")]})
    if len(content) > MAX_LOGO_BYTES:
        raise ValidationFailed({"logo": [_("The logo must be at most 1 MB.")]})
    ext = logo_kind(content)
    if ext is None:
        raise ValidationFailed({"logo": [_("The logo must be a PNG or JPEG image.")]})
    agency = access.agency
    folder = current_app.config["REGIA"].media_root / "logos"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{agency.id}.{ext}"
    tmp = folder / f".{name}.{uuid.uuid4().hex}"
    tmp.write_bytes(content)
    tmp.replace(folder / name)
    for other in {"png", "jpg"} - {ext}:
        (folder / f"{agency.id}.{other}").unlink(missing_ok=True)
    agency.logo_filename = f"logos/{name}"
    with tenant_context(agency.id):
        audit.record_by(
            access,
            "agency.logo_changed",
            subject_type="agency",
            subject_id=agency.id,
            via=via,
        )
        db.session.flush()  # stamped with the agency while it is in context
    db.session.commit()
    return agency


def logo_inline_image(agency: Agency) -> dict[str, str] | None:
    """The logo as an inline e-mail image (see ``agency.mail.service.send_mail``)."""
    path = logo_path(agency)
    if path is None or not path.is_file():
        return None
    subtype = "png" if path.suffix == ".png" else "jpeg"
    return {"cid": f"logo-{agency.id.hex}@regia", "path": str(path), "subtype": subtype}
