"""Web forms of the client pages. Only shapes and CSRF here; the rules live in the service."""

from __future__ import annotations

from babel import Locale
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length

from agency.clients.validation import LANGUAGES, country_codes, currencies, timezones


def country_choices() -> list[tuple[str, str]]:
    """Every country by its name in the current language, after an empty choice."""
    names = Locale.parse(str(get_locale() or "en")).territories
    pairs = ((code, names.get(code, code)) for code in country_codes())
    return [("", "—"), *sorted(pairs, key=lambda pair: pair[1])]


def timezone_choices() -> list[tuple[str, str]]:
    """Canonical zones only (no aliases such as Africa/Asmera)."""
    return [(name, name.replace("_", " ")) for name in sorted(timezones())]


def currency_choices() -> list[tuple[str, str]]:
    """ISO 4217 codes in use, labelled "EUR – Euro" in the current language."""
    from babel.numbers import get_currency_name

    locale = str(get_locale() or "en")
    return [(code, f"{code} – {get_currency_name(code, locale=locale)}") for code in currencies()]


class ClientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    legal_name = StringField(_l("Legal name"), validators=[Length(max=300)])
    # Choices are filled per request (country names in the reader's language).
    country = SelectField(_l("Country"), choices=[], validate_choice=False)
    vat_number = StringField(_l("VAT id"), validators=[Length(max=40)])
    fiscal_code = StringField(_l("Fiscal code"), validators=[Length(max=40)])
    address = StringField(
        _l("Address"),
        validators=[Length(max=500)],
        description=_l("Street and number"),
    )
    postal_code = StringField(_l("Postal code"), validators=[Length(max=20)])
    city = StringField(_l("City"), validators=[Length(max=100)])
    province = StringField(
        _l("Province"),
        validators=[Length(max=40)],
        description=_l("Italy: two-letter code, like MI"),
    )
    billing_email = StringField(_l("Billing e-mail"), validators=[Length(max=320)])
    sdi_code = StringField(
        _l("SDI code"),
        validators=[Length(max=7)],
        description=_l("Italian e-invoicing recipient code (7 characters)"),
    )
    pec = StringField(_l("PEC"), validators=[Length(max=320)])
    # Choices and defaults (the agency's own) are filled per request.
    currency = SelectField(_l("Currency"), choices=[], validate_choice=False)
    timezone = SelectField(_l("Time zone"), choices=[], validate_choice=False)
    language = SelectField(
        _l("Language"),
        choices=[(code, {"en": "English", "it": "Italiano"}[code]) for code in LANGUAGES],
        validate_choice=False,
    )

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.country.choices = country_choices()
        self.timezone.choices = timezone_choices()
        self.currency.choices = currency_choices()

    def details(self) -> dict[str, str | None]:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = self._fields.get(name)
            if field is not None:
                field.errors = list(messages)
