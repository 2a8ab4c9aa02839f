"""Accounts pages: login, logout, sign-up, agency switcher, profile and password."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user

from agency.app import SUPPORTED_LOCALES
from agency.db import db, utcnow
from agency.errors import ValidationFailed
from agency.extensions import limiter
from tenants import service, sessions
from tenants.forms import LoginForm, PasswordForm, ProfileForm, SignupForm, TokenForm
from tenants.names import clean_name
from tenants.throttle import account_and_address, client_address, setting, submitted_email

bp = Blueprint("auth", __name__, template_folder="templates")

_failed = lambda _response: g.get("login_failed", False)  # noqa: E731 - only failures count


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    # Browsers read "\\" as "/" and drop tabs/newlines, so "/\\evil" or "/\t/evil" leave the site.
    if "\\" in target or any(ord(ch) < 32 or ch.isspace() for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


_fresh_session = sessions.fresh_session


@bp.route("/")
def home():  # noqa: ANN201
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(_landing_url())


def _landing_url() -> str:
    agencies = service.agencies_of(current_user)
    if len(agencies) == 1:
        return url_for("shell.dashboard", agency_slug=agencies[0].slug)
    return url_for("auth.agencies")


@bp.route("/login", methods=["GET", "POST"])
# Failures per (account, address): hammering one account from one address locks out only
# that pair; the slower per-account limit catches guessing spread over many addresses.
@limiter.limit(
    setting("login_rate_limit"), key_func=account_and_address, methods=["POST"], deduct_when=_failed
)
@limiter.limit(
    setting("login_account_rate_limit"),
    key_func=submitted_email,
    methods=["POST"],
    deduct_when=_failed,
)
def login():  # noqa: ANN201
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_landing_url())
    form = LoginForm()
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is not None:
            _fresh_session()  # no session fixation across the login boundary
            sessions.sign_in(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or _landing_url())
        g.login_failed = True
        flash(_("Wrong e-mail or password."), "danger")
        return render_template("auth/login.html", form=form), 401
    if request.method == "POST":
        g.login_failed = True
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():  # noqa: ANN201
    sessions.sign_out()  # the server forgets the session: a copied cookie stops working
    _fresh_session()
    return redirect(url_for("auth.login"))


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(
    setting("signup_rate_limit"),
    key_func=client_address,
    methods=["POST"],
    deduct_when=lambda response: response.status_code < 400,
)
def signup():  # noqa: ANN201
    if not current_app.config["REGIA"].signup_enabled:
        abort(404)
    form = SignupForm()
    if form.validate_on_submit():
        try:
            agency, user, _token = service.signup(
                form.agency_name.data, form.name.data, form.email.data, form.password.data
            )
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                getattr(form, field).errors = list(messages)
        else:
            from agency.accounts.service import send_verification

            send_verification(user)
            _fresh_session()
            sessions.sign_in(user)
            welcome = _("Welcome! Your agency is ready. Check your inbox to verify your address.")
            flash(welcome, "success")
            return redirect(url_for("shell.dashboard", agency_slug=agency.slug))
    return render_template("auth/signup.html", form=form), 422 if form.errors else 200


@bp.route("/agencies")
@login_required
def agencies():  # noqa: ANN201
    return render_template("auth/agencies.html", agencies=service.agencies_of(current_user))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():  # noqa: ANN201
    profile = ProfileForm(prefix="profile", obj=current_user)
    password = PasswordForm(prefix="password")
    status = 200
    if "profile-submit" in request.form and profile.validate_on_submit():
        current_user.name = clean_name(profile.name.data, 200)
        current_user.locale = profile.locale.data or None
        db.session.commit()
        flash(_("Profile saved."), "success")
        return redirect(url_for("auth.account"))
    if "password-submit" in request.form and password.validate_on_submit():
        try:
            service.change_password(
                current_user,
                password.current_password.data,
                password.new_password.data,
                keep_session=sessions.current_session_id(),
            )
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                getattr(password, field).errors = list(messages)
        else:
            # This session gets the new fingerprint; others end. The real user, not the proxy:
            # Flask-Login would store the proxy in g and recurse on the next lookup.
            login_user(current_user._get_current_object())
            flash(_("Password changed. Your other sessions have been signed out."), "success")
            return redirect(url_for("auth.account"))
    if profile.errors or password.errors:
        status = 422
    return (
        render_template(
            "auth/account.html",
            profile=profile,
            password=password,
            other_sessions=sessions.live_session_count(current_user) - 1,
        ),
        status,
    )


@bp.post("/account/sessions/revoke-others")
@login_required
def revoke_other_sessions():  # noqa: ANN201
    count = sessions.revoke_sessions(current_user, keep=sessions.current_session_id())
    db.session.commit()
    flash(
        ngettext(
            "Signed out of %(num)d other session.", "Signed out of %(num)d other sessions.", count
        ),
        "success",
    )
    return redirect(url_for("auth.account"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@login_required
def tokens():  # noqa: ANN201
    """Personal API tokens: each bound to one agency, shown once, revocable."""
    form = TokenForm()
    form.agency.choices = [(a.slug, a.name) for a in service.agencies_of(current_user)]
    new_token = None
    if form.validate_on_submit():
        try:
            days = int(form.expires_in_days.data or 0)
            new_token = service.create_personal_token(
                current_user,
                form.agency.data,
                form.name.data,
                expires_at=utcnow() + timedelta(days=days) if days else None,
            )
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                getattr(form, field).errors = list(messages)
        else:
            form = TokenForm(formdata=None)
            form.agency.choices = [(a.slug, a.name) for a in service.agencies_of(current_user)]
    status = 422 if form.errors else (201 if new_token else 200)
    return (
        render_template(
            "auth/tokens.html",
            form=form,
            tokens=service.tokens_of(current_user),
            new_token=new_token,
            now=utcnow(),
        ),
        status,
    )


@bp.route("/account/tokens/<uuid:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id):  # noqa: ANN001, ANN201
    if not service.revoke_token(current_user, token_id):
        abort(404)
    flash(_("Token revoked. Programs using it can no longer sign in."), "success")
    return redirect(url_for("auth.tokens"))


@bp.route("/locale", methods=["POST"])
def set_locale():  # noqa: ANN201
    locale = request.form.get("locale", "")
    if locale not in SUPPORTED_LOCALES:
        abort(400)
    session["locale"] = locale
    if current_user.is_authenticated:
        current_user.locale = locale
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("auth.home"))
