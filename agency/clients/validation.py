"""Validation and normalisation of a client company's legal and billing details.

Pure functions (no database): each returns the normalised value or raises ``FieldError``.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from stdnum import get_cc_module, iban
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.it import codicefiscale, iva

LANGUAGES = ("en", "it")
SDI_RE = re.compile(r"^[A-Z0-9]{7}$")
SDI_PEC_ONLY = "0000000"  # the SDI code meaning "deliver to the PEC address"
# Codes babel knows that are not countries (regions, unions, placeholders).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}


class FieldError(ValueError):
    """One field's value is invalid; the message is user-facing."""


@cache
def country_codes() -> frozenset[str]:
    from babel import Locale

    return frozenset(
        code
        for code in Locale("en").territories
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


@cache
def currencies() -> tuple[str, ...]:
    """ISO 4217 codes in use today: the legal tender of some country, per CLDR (babel)."""
    from babel import Locale
    from babel.numbers import get_territory_currencies

    codes: set[str] = set()
    for territory in Locale("en").territories:
        if len(territory) == 2 and territory.isalpha():
            codes.update(get_territory_currencies(territory, tender=True, non_tender=False))
    return tuple(sorted(codes))


@cache
def timezones() -> frozenset[str]:
    """Canonical IANA zones people pick from (``zone1970.tab``) plus UTC; no aliases such as
    Africa/Asmera or Asia/Calcutta."""
    available = zoneinfo.available_timezones()
    for folder in zoneinfo.TZPATH:
        table = Path(folder) / "zone1970.tab"
        if table.is_file():
            names = {
                line.split("\t")[2]
                for line in table.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")
            }
            return frozenset((names & available) | {"UTC"})
    # No system tz database (the tzdata wheel lacks the tables): drop CLDR's known aliases.
    from babel.core import get_global

    aliases = set(get_global("zone_aliases"))
    return frozenset(name for name in available if name not in aliases and "/" in name) | {"UTC"}


def clean_text(value: object, max_length: int) -> str | None:
    text = (str(value) if value is not None else "").strip()
    if len(text) > max_length:
        raise FieldError(_("Use at most %(n)d characters.", n=max_length))
    return text or None


def clean_country(value: object) -> str | None:
    code = (str(value) if value is not None else "").strip().upper()
    if not code:
        return None
    if code not in country_codes():
        raise FieldError(_("Enter an ISO 3166 two-letter country code, like IT or DE."))
    return code


def clean_currency(value: object) -> str:
    code = (str(value) if value is not None else "").strip().upper()
    if code not in currencies():
        raise FieldError(_("Choose an ISO 4217 currency code such as EUR."))
    return code


def clean_timezone(value: object) -> str:
    name = (str(value) if value is not None else "").strip()
    if name not in timezones():
        canonical = canonical_timezone(name)
        if canonical:
            raise FieldError(_("%(old)s is an old name: use %(new)s.", old=name, new=canonical))
        raise FieldError(_("Enter a time zone like Europe/Rome."))
    return name


def canonical_timezone(name: str) -> str | None:
    """The offered zone an alias (``Africa/Asmera``) stands for, when there is one."""
    links = _timezone_links()
    for _hop in range(5):  # links may point at links
        name = links.get(name, "")
        if name in timezones():
            return name
    return None


@cache
def _timezone_links() -> dict[str, str]:
    """alias -> target, from the tz database's ``tzdata.zi`` (else CLDR's alias table)."""
    for folder in zoneinfo.TZPATH:
        source = Path(folder) / "tzdata.zi"
        if source.is_file():
            links = {}
            for line in source.read_text(encoding="utf-8").splitlines():
                if line.startswith("L "):
                    _l, target, alias = line.split()[:3]
                    links[alias] = target
            return links
    from babel.core import get_global

    return dict(get_global("zone_aliases"))


def clean_language(value: object) -> str:
    code = (str(value) if value is not None else "").strip().lower()
    if code not in LANGUAGES:
        raise FieldError(_("Choose English (en) or Italian (it)."))
    return code


def clean_email(value: object) -> str | None:
    text = (str(value) if value is not None else "").strip()
    if not text:
        return None
    if len(text) > 320:
        raise FieldError(_("Use at most %(n)d characters.", n=320))
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise FieldError(_("Enter a valid e-mail address.")) from exc


def _eu_prefix(country: str) -> str:
    return "EL" if country == "GR" else country


def clean_vat(value: object, country: str | None) -> str | None:
    """The compact VAT id, with the EU country prefix for EU member states."""
    raw = re.sub(r"[\s.\-/]", "", str(value) if value is not None else "").upper()
    if not raw:
        return None
    if not country:
        raise FieldError(_("Choose the country first: VAT ids are checked per country."))
    if country.lower() in eu_vat.MEMBER_STATES or country == "GR":
        prefix = _eu_prefix(country)
        if raw[:2].isalpha():
            if raw[:2] != prefix:
                raise FieldError(_("This VAT id does not belong to the client's country."))
            number = raw
        else:
            number = prefix + raw
        try:
            return eu_vat.validate(number)
        except StdnumError as exc:
            raise FieldError(_("This is not a valid VAT id for %(c)s.", c=country)) from exc
    module = get_cc_module(country.lower(), "vat")
    if module is None:
        if len(raw) > 40 or not raw.isalnum():
            raise FieldError(_("Use letters and digits only, at most 40."))
        return raw
    try:
        return module.validate(raw)
    except StdnumError as exc:
        raise FieldError(_("This is not a valid VAT id for %(c)s.", c=country)) from exc


def clean_fiscal_code(value: object, country: str | None) -> str | None:
    """Italian codice fiscale (person, 16 chars, or company, 11 digits); free text elsewhere."""
    raw = re.sub(r"[\s.\-/]", "", str(value) if value is not None else "").upper()
    if not raw:
        return None
    if country == "IT":
        if len(raw) == 11 and raw.isdigit():
            if iva.is_valid(raw):
                return raw
        elif codicefiscale.is_valid(raw):
            return codicefiscale.compact(raw)
        raise FieldError(_("This is not a valid Italian fiscal code."))
    if len(raw) > 40 or not raw.isalnum():
        raise FieldError(_("Use letters and digits only, at most 40."))
    return raw


def clean_sdi(value: object) -> str | None:
    code = (str(value) if value is not None else "").strip().upper()
    if not code:
        return None
    if not SDI_RE.match(code):
        raise FieldError(_("The SDI code has exactly 7 letters or digits."))
    return code


# -- structured addresses and bank details (DESIGN.md §8) -------------------------------
IT_POSTAL_CODE_RE = re.compile(r"^[0-9]{5}$")
PROVINCE_RE = re.compile(r"^[A-Z]{2}$")
POSTAL_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,19}$")
#: What the API documents (blank clears; surrounding spaces are trimmed).
POSTAL_CODE_PATTERN = r"^\s*([A-Za-z0-9][A-Za-z0-9 \-]{0,19})?\s*$"


def clean_postal_code(value: object, country: str | None) -> str | None:
    """Italian CAP: exactly five digits; elsewhere letters, digits, spaces and dashes."""
    text = (str(value) if value is not None else "").strip().upper()
    if not text:
        return None
    if country == "IT":
        if not IT_POSTAL_CODE_RE.match(text):
            raise FieldError(_("An Italian postal code (CAP) has exactly 5 digits."))
        return text
    if not POSTAL_CODE_RE.match(text):
        raise FieldError(_("Use letters, digits, spaces and dashes only, at most 20."))
    return text


def clean_province(value: object, country: str | None) -> str | None:
    """Italian province: its two-letter code (``MI``); elsewhere free text (a region, a state)."""
    text = (str(value) if value is not None else "").strip()
    if not text:
        return None
    if country == "IT":
        code = text.upper()
        if not PROVINCE_RE.match(code):
            raise FieldError(_("Use the province's two-letter code, like MI or RM."))
        return code
    if len(text) > 40:
        raise FieldError(_("Use at most %(n)d characters.", n=40))
    return text


def clean_iban(value: object) -> str | None:
    """The compact IBAN (``IT60X0542811101000000123456``), checked with python-stdnum."""
    text = (str(value) if value is not None else "").strip()
    if not text:
        return None
    try:
        return iban.validate(text)
    except StdnumError as exc:
        raise FieldError(_("This is not a valid IBAN.")) from exc
