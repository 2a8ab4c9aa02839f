"""Web forms of the accounts pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from tenants.names import InvalidName, clean_name
from tenants.passwords import MIN_PASSWORD_LENGTH


class ValidName:
    """WTForms validator of the shared name rule (``tenants.names``); a name is required."""

    field_flags = {"required": True}  # the form macros mark the field (and add `required`)

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def __call__(self, form, field) -> None:  # noqa: ANN001
        from wtforms.validators import StopValidation

        try:
            clean_name(field.data, self.max_length)
        except InvalidName as exc:
            raise StopValidation(str(exc)) from exc


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField(_l("Keep me signed in"))


class SignupForm(FlaskForm):
    agency_name = StringField(_l("Agency name"), validators=[ValidName(200)])
    name = StringField(_l("Your name"), validators=[ValidName(200)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=320)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[ValidName(200)])
    locale = SelectField(
        _l("Language"),
        choices=[("", _l("Browser language")), ("en", "English"), ("it", "Italiano")],
    )


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[ValidName(100)])
    agency = SelectField(_l("Agency"), validators=[DataRequired()])
    expires_in_days = SelectField(
        _l("Expires"),
        choices=[
            ("0", _l("Never (until revoked)")),
            ("7", _l("In 7 days")),
            ("30", _l("In 30 days")),
            ("90", _l("In 90 days")),
            ("365", _l("In a year")),
        ],
        default="90",
    )


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)]
    )
