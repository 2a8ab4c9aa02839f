"""Rate card page of a client, the time log, and the client portal's invoices."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from agency.clients.service import get_client
from agency.errors import ValidationFailed
from agency.numbers import write_number
from agency.web.context import add_nav_item
from billing import invoices, rates, timelog
from billing.forms import RateCardForm, TimeEntryForm, amount_text, rate_text
from tenants.permissions import Permission

bp = Blueprint(
    "billing_setup", __name__, url_prefix="/a/<agency_slug>", template_folder="templates"
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav_item(app, "billing_setup.time", _l("Time"), Permission.LOG_TIME)
    add_nav_item(app, "billing_setup.my_invoices", _l("Invoices"), Permission.READ_OWN_INVOICES)


def _card_data(client) -> dict:  # noqa: ANN001
    card = rates.current_card(client)
    if card is None:
        return {
            "effective_from": rates.client_today(client).isoformat(),
            "currency": client.currency,
            "payment_terms_days": "30",
        }
    # Written the page's way ("1.500,00" in Italian), so saving it unchanged reads it back.
    data = {
        name: write_number(getattr(card, name)) for name in ("posts_included", "payment_terms_days")
    }
    data.update(
        {name: amount_text(getattr(card, name), card.currency) for name in RateCardForm.MONEY}
    )
    data.update(
        effective_from=rates.client_today(client).isoformat(),
        currency=card.currency,
        vat_rate=rate_text(card.vat_rate),
    )
    return data


@bp.route("/clients/<uuid:client_id>/rate-card", methods=["GET", "POST"])
@login_required
def rate_card(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    rates.require_billing(g.access)
    client = get_client(g.access, client_id)
    form = RateCardForm() if request.method == "POST" else RateCardForm(data=_card_data(client))
    if form.validate_on_submit():
        values, errors = form.values()
        try:
            if errors:  # unreadable amounts: report them with every other field's errors
                try:
                    rates.validate_rate_card({**values, **dict.fromkeys(errors, 0)}, client)
                except ValidationFailed as exc:
                    errors = {**exc.errors, **errors}
                raise ValidationFailed(errors)
            rates.save_rate_card(g.access, client, values)
        except ValidationFailed as exc:
            form.show_errors({**exc.errors, **errors})
        else:
            flash(_("Rate card saved."), "success")
            return redirect(url_for("billing_setup.rate_card", client_id=client.id))
    return render_template(
        "billing/rate_card.html",
        form=form,
        client=client,
        current=rates.current_card(client),
        versions=rates.versions(client.id),
    ), 422 if form.errors else 200


@bp.route("/time", methods=["GET", "POST"])
@login_required
def time(agency_slug: str):  # noqa: ANN201
    if not g.access.can(Permission.LOG_TIME):
        from agency.errors import PermissionDenied

        raise PermissionDenied(_("Your role does not allow this."))
    clients = timelog.loggable_clients(g.access)
    form = TimeEntryForm()
    form.client_id.choices = [(str(c.id), c.name) for c in clients]
    if form.validate_on_submit():
        try:
            timelog.log_time(
                g.access,
                {
                    "client_id": form.client_id.data,
                    "minutes": form.read_minutes(),
                    "description": form.description.data,
                    "date": form.date.data,
                },
            )
        except ValidationFailed as exc:
            form.show_errors(exc.errors)
        else:
            flash(_("Time logged."), "success")
            return redirect(url_for("billing_setup.time"))
    return render_template(
        "billing/time.html",
        form=form,
        entries=timelog.recent_entries(g.access),
        clients={c.id: c for c in clients},
    ), 422 if form.errors else 200


@bp.get("/my-invoices")
@login_required
def my_invoices(agency_slug: str):  # noqa: ANN201
    """The client portal: a client manager's own company's finalized invoices."""
    if not g.access.can(Permission.READ_OWN_INVOICES):
        from agency.errors import PermissionDenied

        raise PermissionDenied(_("Your role does not allow this."))
    items, next_cursor = invoices.list_invoices(g.access, cursor=request.args.get("cursor") or None)
    return render_template("billing/portal.html", invoices=items, next_cursor=next_cursor)
