"""Rate cards: validation, versions by effective date, the version in force for a period."""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import select

from agency import audit
from agency.db import db, utcnow
from agency.errors import PermissionDenied, ValidationFailed
from billing.models import RateCard
from billing.money import CURRENCIES, MAX_MINOR
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

MONEY_FIELDS = ("monthly_retainer", "price_per_post", "price_per_reply", "hourly_rate")
FIELDS = (
    "effective_from",
    "currency",
    *MONEY_FIELDS,
    "posts_included",
    "vat_rate",
    "payment_terms_days",
)
MAX_POSTS_INCLUDED = 100_000
MAX_TERMS_DAYS = 365


def require_billing(access: Access) -> None:
    if not access.can(Permission.BILLING):
        raise PermissionDenied(_("Your role does not allow this."))


def client_today(client: ClientCompany) -> date:
    return datetime.now(ZoneInfo(client.timezone)).date()


def period_bounds(period: str) -> tuple[date, date]:
    """First and last day of a ``YYYY-MM`` period (which must already be valid)."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _int(value: object, low: int, high: int) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return _("Enter a whole number.")
    try:
        number = int(value)
    except ValueError:
        return _("Enter a whole number.")
    if not low <= number <= high:
        return _("Enter a number between %(low)s and %(high)s.", low=low, high=high)
    return number


def validate_rate_card(data: Mapping[str, object], client: ClientCompany) -> dict[str, object]:
    """Every field checked at once; money in minor units; raises ValidationFailed."""
    errors: dict[str, list[str]] = {}
    out: dict[str, object] = {}
    for name in FIELDS:
        if data.get(name) in (None, ""):
            errors[name] = [_("This field is required.")]
    effective = data.get("effective_from")
    if isinstance(effective, str) and effective:
        try:
            effective = date.fromisoformat(effective)
        except ValueError:
            errors["effective_from"] = [_("Enter a date as YYYY-MM-DD.")]
    if isinstance(effective, date):
        out["effective_from"] = effective
    currency = str(data.get("currency") or "").strip().upper()
    if currency and currency not in CURRENCIES:
        errors["currency"] = [_("Choose one of: %(list)s.", list=", ".join(CURRENCIES))]
    out["currency"] = currency
    for name in MONEY_FIELDS:
        if name in errors:
            continue
        value = _int(data.get(name), 0, MAX_MINOR)
        if isinstance(value, str):
            errors[name] = [value]
        else:
            out[name] = value
    for name, high in (("posts_included", MAX_POSTS_INCLUDED), ("payment_terms_days", 365)):
        if name in errors:
            continue
        value = _int(data.get(name), 0, high)
        if isinstance(value, str):
            errors[name] = [value]
        else:
            out[name] = value
    if "vat_rate" not in errors:
        try:
            rate = Decimal(str(data.get("vat_rate")).strip().replace(",", "."))
            if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(100):
                raise InvalidOperation
            if rate != rate.quantize(Decimal("0.01")):
                raise InvalidOperation
            out["vat_rate"] = rate.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors["vat_rate"] = [_("Enter a percentage between 0 and 100, e.g. 22.")]
    if errors:
        raise ValidationFailed(errors)
    return out


def save_rate_card(
    access: Access, client: ClientCompany, data: Mapping[str, object], *, via: str = "web"
) -> RateCard:
    """A new version of the client's rate card; the same effective date replaces that version."""
    require_billing(access)
    values = validate_rate_card(data, client)
    card = db.session.scalar(
        select(RateCard).where(
            RateCard.client_id == client.id, RateCard.effective_from == values["effective_from"]
        )
    )
    if card is None:
        card = RateCard(client_id=client.id, created_by_id=access.user.id)
        db.session.add(card)
    for name, value in values.items():
        setattr(card, name, value)
    card.created_at = utcnow()
    db.session.flush()
    audit.record_by(
        access,
        "rate_card.saved",
        subject_type="rate_card",
        subject_id=card.id,
        client_id=client.id,
        via=via,
        effective_from=values["effective_from"].isoformat(),
    )
    db.session.commit()
    return card


def card_on(client_id: uuid.UUID, day: date) -> RateCard | None:
    """The version in force on ``day``: the latest one effective on or before it."""
    return db.session.scalar(
        select(RateCard)
        .where(RateCard.client_id == client_id, RateCard.effective_from <= day)
        .order_by(RateCard.effective_from.desc())
        .limit(1)
    )


def current_card(client: ClientCompany) -> RateCard | None:
    return card_on(client.id, client_today(client))


def card_for_period(client_id: uuid.UUID, period: str) -> RateCard | None:
    """The version in force on the period's last day bills the whole period."""
    return card_on(client_id, period_bounds(period)[1])


def versions(client_id: uuid.UUID) -> list[RateCard]:
    return list(
        db.session.scalars(
            select(RateCard)
            .where(RateCard.client_id == client_id)
            .order_by(RateCard.effective_from.desc())
        )
    )
