"""Recovery pages: forgot password, reset by link, verify the e-mail address, resend it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from agency.accounts import service
from agency.errors import DomainError, ValidationFailed
from agency.extensions import limiter
from tenants.passwords import MIN_PASSWORD_LENGTH
from tenants.sessions import fresh_session
from tenants.throttle import client_address, setting, submitted_email

bp = Blueprint("recovery", __name__, template_folder="templates")


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])


class ResetForm(FlaskForm):
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )
    revoke_tokens = BooleanField(_l("Also revoke all my API tokens"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(setting("reset_rate_limit"), key_func=client_address, methods=["POST"])
@limiter.limit(setting("reset_rate_limit"), key_func=submitted_email, methods=["POST"])
def forgot():  # noqa: ANN201
    form = ForgotForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        # The same answer whether or not the address has an account.
        flash(
            _("If an account uses that address, a link to reset its password is on its way."),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("accounts/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(setting("reset_rate_limit"), key_func=client_address, methods=["POST"])
def reset(token: str):  # noqa: ANN201
    service.find_reset(token)  # 410 page for an unknown, used or expired link
    form = ResetForm()
    if form.validate_on_submit():
        try:
            service.reset_password(
                token, form.new_password.data, revoke_tokens=form.revoke_tokens.data
            )
        except ValidationFailed as exc:
            form.new_password.errors = list(exc.errors.get("new_password", [exc.message]))
        else:
            if current_user.is_authenticated:
                logout_user()  # its server-side session is already revoked
            fresh_session()
            flash(_("Password changed and every session signed out. Sign in again."), "success")
            return redirect(url_for("auth.login"))
    return render_template("accounts/reset.html", form=form), 422 if form.errors else 200


@bp.get("/verify-email/<token>")
def verify(token: str):  # noqa: ANN201
    service.verify_email(token)
    flash(_("Thank you: your e-mail address is verified."), "success")
    return redirect(url_for("auth.home"))


@bp.post("/account/verify-email/resend")
@login_required
def resend_verification():  # noqa: ANN201
    try:
        service.resend_verification(current_user._get_current_object())
    except DomainError as exc:
        flash(exc.message, "danger")
        return redirect(url_for("auth.account"))
    flash(_("We sent the verification link again to %(email)s.", email=current_user.email), "info")
    return redirect(url_for("auth.account"))
