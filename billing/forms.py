"""Billing forms: shapes, CSRF, and numbers read as typed in the page's language (agency.numbers);
the rules live in the services."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Optional

from agency.numbers import UnreadableNumber, read_number, write_number
from billing.money import CURRENCIES, InvalidAmount, exponent, to_major, to_minor

# A text field for numbers: phones show a keyboard with digits and the decimal separator.
NUMBER_INPUT = {"inputmode": "decimal", "autocomplete": "off"}
WHOLE_INPUT = {"inputmode": "numeric", "autocomplete": "off"}


class _ShowsErrors:
    def show_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = self._fields.get(name)  # type: ignore[attr-defined]
            if field is not None:
                field.errors = list(messages)


def read_amount(raw: str, currency: str, example: int = 1500) -> int:
    """Typed money in the page's locale -> minor units; UnreadableNumber says how to write it
    (more decimals than the currency has is refused, never rounded)."""
    places = exponent(currency)
    value = read_number(raw, example=Decimal(example), places=places, amount=True)
    try:
        return to_minor(value, currency)
    except InvalidAmount:
        shown = write_number(Decimal(example), places)
        raise UnreadableNumber(_("Enter an amount such as %(example)s.", example=shown)) from None


def read_decimal(raw: str, example: str, invalid: str | None = None) -> str:
    """A typed rate or quantity in the page's locale, as the plain text the services read."""
    return format(read_number(raw, example=Decimal(example), invalid=invalid), "f")


def read_vat_rate(raw: str) -> str:
    return read_decimal(raw, "22", _("Enter a percentage between 0 and 100, e.g. 22."))


def read_whole(raw: str, example: int) -> str:
    """A typed whole number (``1.000`` in Italian is a thousand) as plain digits."""
    value = read_number(raw, example=Decimal(example), places=0)
    if value != value.to_integral_value():
        raise UnreadableNumber(_("Enter a whole number."))
    return str(int(value))


def amount_text(amount_minor: int, currency: str) -> str:
    """A stored amount as its field shows it: ``150000`` EUR -> ``1.500,00`` in Italian."""
    return write_number(to_major(amount_minor, currency), exponent(currency))


def rate_text(rate: Decimal) -> str:
    """A stored VAT rate as its field shows it: ``22.00`` -> ``22``, ``5.50`` -> ``5,5`` (it)."""
    return write_number(rate)


def _read_fields(
    form: FlaskForm, readers: dict[str, object]
) -> tuple[dict[str, object], dict[str, list[str]]]:
    """Each field read by its reader (blank stays blank: the service says it is required)."""
    out: dict[str, object] = {}
    errors: dict[str, list[str]] = {}
    for name, reader in readers.items():
        raw = (getattr(form, name).data or "").strip()
        if not raw:
            out[name] = ""
            continue
        try:
            out[name] = reader(raw)  # type: ignore[operator]
        except UnreadableNumber as exc:
            errors[name] = [exc.message]
    return out, errors


class RateCardForm(_ShowsErrors, FlaskForm):
    effective_from = StringField(_l("Effective from"), description=_l("YYYY-MM-DD"))
    currency = SelectField(_l("Currency"), choices=[(c, c) for c in CURRENCIES])
    monthly_retainer = StringField(_l("Monthly retainer"), render_kw=NUMBER_INPUT)
    posts_included = StringField(_l("Posts included in the retainer"), render_kw=WHOLE_INPUT)
    price_per_post = StringField(_l("Price per extra post"), render_kw=NUMBER_INPUT)
    price_per_reply = StringField(_l("Price per reply"), render_kw=NUMBER_INPUT)
    hourly_rate = StringField(_l("Hourly rate"), render_kw=NUMBER_INPUT)
    vat_rate = StringField(_l("VAT rate (%)"), render_kw=NUMBER_INPUT)
    payment_terms_days = StringField(_l("Payment terms (days)"), render_kw=WHOLE_INPUT)

    MONEY = ("monthly_retainer", "price_per_post", "price_per_reply", "hourly_rate")

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        # The examples are written the page's way: "1.500,00" on an Italian page.
        self.monthly_retainer.description = _("e.g. %(example)s", example=write_number(1500, 2))
        self.vat_rate.description = _("e.g. %(example)s", example=write_number(Decimal("22")))

    def values(self) -> tuple[dict[str, object], dict[str, list[str]]]:
        """The service's input (money in minor units, numbers as plain digits) and the error of
        every field whose number the form cannot read in the page's locale."""
        currency = self.currency.data or "EUR"
        readers: dict[str, object] = {
            name: (lambda raw: read_amount(raw, currency)) for name in self.MONEY
        }
        readers.update(
            posts_included=lambda raw: read_whole(raw, 10),
            payment_terms_days=lambda raw: read_whole(raw, 30),
            vat_rate=read_vat_rate,
        )
        out, errors = _read_fields(self, readers)
        out["effective_from"] = (self.effective_from.data or "").strip()
        out["currency"] = currency
        return out, errors


class TimeEntryForm(_ShowsErrors, FlaskForm):
    client_id = SelectField(_l("Client"), choices=[], validate_choice=False)
    date = DateField(_l("Date"), validators=[Optional()])
    minutes = StringField(_l("Minutes"), render_kw=WHOLE_INPUT)
    description = StringField(_l("What was done"))

    def read_minutes(self) -> int | str:
        """The typed minutes as a whole number in the page's locale (``1.440`` in Italian,
        ``1,440`` in English); text that is not one is passed on for the service to refuse."""
        raw = (self.minutes.data or "").strip()
        try:
            return int(read_whole(raw, 90))
        except UnreadableNumber:
            return raw


class RunForm(_ShowsErrors, FlaskForm):
    period = StringField(_l("Period"), description=_l("YYYY-MM"))
    client_id = SelectField(_l("Client"), choices=[], validate_choice=False)


class ManualLineForm(_ShowsErrors, FlaskForm):
    description = StringField(_l("Description"))
    quantity = StringField(_l("Quantity"), default="1", render_kw=NUMBER_INPUT)
    unit_amount = StringField(_l("Unit price"), render_kw=NUMBER_INPUT)
    vat_rate = StringField(_l("VAT rate (%)"), render_kw=NUMBER_INPUT)

    def __init__(self, *args, currency: str = "EUR", **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.unit_amount.description = _(
            "e.g. %(example)s", example=write_number(250, exponent(currency))
        )

    def values(self) -> tuple[dict[str, object], dict[str, list[str]]]:
        """The service's input (the price in minor units) and the error of every number the
        form cannot read in the page's locale."""
        out, errors = _read_fields(
            self,
            {
                "quantity": lambda raw: read_decimal(raw, "1.5"),
                "unit_amount": lambda raw: read_amount(raw, self.currency, 250),
                "vat_rate": read_vat_rate,
            },
        )
        out["description"] = (self.description.data or "").strip()
        return out, errors


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
