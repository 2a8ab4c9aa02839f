"""Billing forms: shapes and CSRF only; the rules live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from billing.money import CURRENCIES, InvalidAmount, to_minor


class _ShowsErrors:
    def show_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = self._fields.get(name)  # type: ignore[attr-defined]
            if field is not None:
                field.errors = list(messages)


class RateCardForm(_ShowsErrors, FlaskForm):
    effective_from = StringField(_l("Effective from"), description=_l("YYYY-MM-DD"))
    currency = SelectField(_l("Currency"), choices=[(c, c) for c in CURRENCIES])
    monthly_retainer = StringField(_l("Monthly retainer"), description=_l("e.g. 1500.00"))
    posts_included = StringField(_l("Posts included in the retainer"))
    price_per_post = StringField(_l("Price per extra post"))
    price_per_reply = StringField(_l("Price per reply"))
    hourly_rate = StringField(_l("Hourly rate"))
    vat_rate = StringField(_l("VAT rate (%)"), description=_l("e.g. 22"))
    payment_terms_days = StringField(_l("Payment terms (days)"))

    MONEY = ("monthly_retainer", "price_per_post", "price_per_reply", "hourly_rate")

    def values(self) -> tuple[dict[str, object], dict[str, list[str]]]:
        """The service's input (money in minor units) and any amount the form cannot read."""
        currency = self.currency.data or "EUR"
        out: dict[str, object] = {
            name: (getattr(self, name).data or "").strip()
            for name in ("effective_from", "posts_included", "vat_rate", "payment_terms_days")
        }
        out["currency"] = currency
        errors: dict[str, list[str]] = {}
        for name in self.MONEY:
            raw = (getattr(self, name).data or "").strip()
            if not raw:
                out[name] = ""
                continue
            try:
                out[name] = to_minor(raw, currency)
            except InvalidAmount:
                errors[name] = [str(_l("Enter an amount such as 1500.00."))]
        return out, errors


class TimeEntryForm(_ShowsErrors, FlaskForm):
    client_id = SelectField(_l("Client"), choices=[], validate_choice=False)
    date = DateField(_l("Date"), validators=[Optional()])
    minutes = IntegerField(_l("Minutes"), validators=[Optional()])
    description = StringField(_l("What was done"))


class RunForm(_ShowsErrors, FlaskForm):
    period = StringField(_l("Period"), description=_l("YYYY-MM"))
    client_id = SelectField(_l("Client"), choices=[], validate_choice=False)


class ManualLineForm(_ShowsErrors, FlaskForm):
    description = StringField(_l("Description"))
    quantity = StringField(_l("Quantity"), default="1")
    unit_amount = StringField(_l("Unit price"), description=_l("e.g. 250.00"))
    vat_rate = StringField(_l("VAT rate (%)"))


class ActionForm(FlaskForm):
    """CSRF only: the buttons of the invoice page."""


class ExportForm(_ShowsErrors, FlaskForm):
    """The finance exports' query (a GET form: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    date_from = StringField(_l("From"), description=_l("YYYY-MM-DD"))
    date_to = StringField(_l("To"), description=_l("YYYY-MM-DD, inclusive"))
    kind = SelectField(
        _l("CSV contents"),
        choices=[("register", _l("Register: one row per invoice")), ("lines", _l("Lines"))],
    )
    delimiter = SelectField(
        _l("Delimiter"), choices=[("comma", _l("Comma")), ("semicolon", _l("Semicolon"))]
    )
    bom = SelectField(_l("Byte-order mark"), choices=[("", _l("No")), ("true", _l("Yes (Excel)"))])

    FIELDS = {"from": "date_from", "to": "date_to"}

    def query(self) -> dict[str, str]:
        """The service's argument names (``from``, ``to``, ``kind``…)."""
        return {
            "from": (self.date_from.data or "").strip(),
            "to": (self.date_to.data or "").strip(),
            "kind": self.kind.data or "register",
            "delimiter": self.delimiter.data or "comma",
            "bom": self.bom.data or "",
        }

    def show_service_errors(self, errors: dict[str, list[str]]) -> None:
        self.show_errors({self.FIELDS.get(name, name): msgs for name, msgs in errors.items()})
