"""Agency settings page (owners and managers) and the agency logo, served to members only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from agency.clients.forms import country_choices, currency_choices, timezone_choices
from agency.errors import ValidationFailed
from agency.team import agency_settings
from agency.team.forms import LogoForm, SettingsForm
from tenants.permissions import Permission
from tenants.web import current_access, require

bp = Blueprint(
    "agency_settings", __name__, url_prefix="/a/<agency_slug>", template_folder="templates"
)


def _settings_form(agency) -> SettingsForm:  # noqa: ANN001
    form = SettingsForm(prefix="settings", obj=agency)
    form.country.choices = country_choices()
    form.timezone.choices = timezone_choices()
    form.default_currency.choices = currency_choices()
    return form


def _render(form: SettingsForm, logo: LogoForm, status: int = 200):  # noqa: ANN202
    return render_template("team/settings.html", form=form, logo_form=logo), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def edit(agency_slug: str):  # noqa: ANN201
    access = require(Permission.MANAGE_AGENCY)
    form = _settings_form(access.agency)
    logo = LogoForm(prefix="logo")
    if form.is_submitted():
        if not form.validate():
            return _render(form, logo, 422)
        data = {name: form[name].data for name in agency_settings.FIELDS}
        try:
            agency_settings.update_settings(access, data)
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                form[field].errors = list(messages)
            return _render(form, logo, 422)
        flash(_("Agency settings saved."), "success")
        return redirect(url_for("agency_settings.edit"))
    return _render(form, logo)


@bp.post("/settings/logo")
@login_required
def upload_logo(agency_slug: str):  # noqa: ANN201
    access = require(Permission.MANAGE_AGENCY)
    form = _settings_form(access.agency)
    logo = LogoForm(prefix="logo")
    if not logo.validate_on_submit():
        return _render(form, logo, 422)
    content = logo.logo.data.read(agency_settings.MAX_LOGO_BYTES + 1)
    try:
        agency_settings.save_logo(access, content)
    except ValidationFailed as exc:
        logo.logo.errors = list(exc.errors["logo"])
        return _render(form, logo, 422)
    flash(_("Logo saved."), "success")
    return redirect(url_for("agency_settings.edit"))


@bp.get("/logo")
@login_required
def logo(agency_slug: str):  # noqa: ANN201
    access = current_access()
    path = agency_settings.logo_path(access.agency)
    if path is None or not path.is_file():
        abort(404)
    mimetype = "image/png" if path.suffix == ".png" else "image/jpeg"
    response = send_file(path, mimetype=mimetype, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
