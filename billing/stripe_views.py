"""The Stripe connection page (owner and finance): paste the key and the signing secret."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import Length

from agency.errors import ValidationFailed
from billing import stripe_sync
from billing.stripe_api import connection_out
from tenants.permissions import Permission
from tenants.web import require

bp = Blueprint(
    "billing_stripe",
    __name__,
    url_prefix="/a/<agency_slug>/billing",
    template_folder="templates",
)


class StripeForm(FlaskForm):
    # Password fields: a stored secret is never put back into the page.
    api_key = PasswordField(
        _l("Restricted API key"),
        validators=[Length(max=255)],
        description=_l("From Stripe: Developers → API keys → Create restricted key (rk_…)."),
    )
    webhook_secret = PasswordField(
        _l("Webhook signing secret"),
        validators=[Length(max=255)],
        description=_l("The endpoint's signing secret (whsec_…)."),
    )


@bp.route("/stripe", methods=["GET", "POST"])
@login_required
def stripe(agency_slug: str):  # noqa: ANN201
    access = require(Permission.BILLING)
    form = StripeForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                stripe_sync.connect(access, form.api_key.data, form.webhook_secret.data)
            except ValidationFailed as exc:
                for field, messages in exc.errors.items():
                    form[field].errors = list(messages)
                status = 422
            else:
                connected = stripe_sync.connection_for(access.agency) is not None
                flash(_("Stripe connected.") if connected else _("Stripe disconnected."), "success")
                return redirect(url_for("billing_stripe.stripe"))
        else:
            status = 422
    return render_template(
        "billing/stripe.html", form=form, connection=connection_out(access.agency)
    ), status


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
