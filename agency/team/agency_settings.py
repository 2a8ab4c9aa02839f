"""Agency settings: identity, legal and fiscal details (printed on invoices), locale, logo.

VAT ids and fiscal codes are validated with python-stdnum for the agency's country; the
Italian tax regime (FatturaPA ``RegimeFiscale``) is required for Italian agencies.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from agency import audit
from agency.clients import validation
from agency.clients.validation import FieldError
from agency.db import db
from agency.errors import PermissionDenied, ValidationFailed
from tenants.context import tenant_context
from tenants.models import Agency
from tenants.names import InvalidName, clean_name
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
    "postal_code",
    "city",
    "province",
    "iban",
    "tax_regime",
    "default_locale",
    "timezone",
    "default_currency",
)


def ensure_manage_agency(access: Access) -> None:
    if not access.can(Permission.MANAGE_AGENCY):
        raise PermissionDenied(_("Your role does not allow changing the agency's settings."))


def _checked(errors: dict[str, list[str]], field: str, clean, *args: object):  # noqa: ANN001, ANN202
    """``clean(*args)``, or None with the field's error noted."""
    try:
        return clean(*args)
    except FieldError as exc:
        errors[field] = [str(exc)]
        return None


def update_settings(access: Access, data: dict[str, Any], *, via: str = "web") -> Agency:
    """Validate every field first; on any error raise ``ValidationFailed`` and change nothing."""
    ensure_manage_agency(access)
    agency = access.agency
    values = {f: (data[f] if f in data else getattr(agency, f)) for f in FIELDS}
    values = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in values.items()}
    errors: dict[str, list[str]] = {}
    try:
        values["name"] = clean_name(data.get("name", agency.name), 200)
    except InvalidName as exc:
        errors["name"] = [str(exc)]
    for name, limit in (("legal_name", 300), ("address", 500), ("city", 100)):
        if values[name] and len(values[name]) > limit:
            errors[name] = [_("Use at most %(n)d characters.", n=limit)]
    # The same legal-detail rules as client companies (python-stdnum per country).
    country = _checked(errors, "country", validation.clean_country, values["country"])
    values["country"] = country
    values["vat_number"] = _checked(
        errors, "vat_number", validation.clean_vat, values["vat_number"], country
    )
    values["fiscal_code"] = _checked(
        errors, "fiscal_code", validation.clean_fiscal_code, values["fiscal_code"], country
    )
    if "country" not in errors:
        values["postal_code"] = _checked(
            errors, "postal_code", validation.clean_postal_code, values["postal_code"], country
        )
        values["province"] = _checked(
            errors, "province", validation.clean_province, values["province"], country
        )
    values["iban"] = _checked(errors, "iban", validation.clean_iban, values["iban"])
    if values["tax_regime"] and values["tax_regime"] not in TAX_REGIMES:
        errors["tax_regime"] = [_("Choose a tax regime code (RF01–RF19).")]
    elif country == "IT" and not values["tax_regime"]:
        errors["tax_regime"] = [_("Italian agencies must choose their tax regime.")]
    if values["default_locale"] not in SUPPORTED_LOCALES:
        errors["default_locale"] = [_("Choose English or Italian.")]
    values["timezone"] = _checked(errors, "timezone", validation.clean_timezone, values["timezone"])
    values["default_currency"] = _checked(
        errors, "default_currency", validation.clean_currency, values["default_currency"]
    )
    if errors:
        raise ValidationFailed(errors)
    changed = {k: v for k, v in values.items() if getattr(agency, k) != v}
    for key, value in changed.items():
        setattr(agency, key, value)
    if changed:
        audit.record_by(
            access,
            "agency.settings_changed",
            subject_type="agency",
            subject_id=agency.id,
            via=via,
            fields=sorted(changed),
        )
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
