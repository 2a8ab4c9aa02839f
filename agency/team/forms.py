"""Web forms of the team pages: invitations, members, agency settings, accepting an invitation.

Choices are offered for convenience; the services decide what is allowed (a role the
inviter may not grant answers 403, an unknown client 422).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, Optional

from agency.team.agency_settings import TAX_REGIMES
from tenants.forms import ValidName
from tenants.passwords import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [
    ("manager", _l("Manager")),
    ("staff", _l("Staff")),
    ("finance", _l("Finance")),
    ("client_manager", _l("Client manager")),
    ("client_viewer", _l("Client viewer")),
    ("owner", _l("Owner")),
]


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validate_choice=False)
    client_id = SelectField(_l("Client company (client roles)"), choices=[], validate_choice=False)
    assigned_client_ids = SelectMultipleField(
        _l("Assigned clients (staff)"), choices=[], validate_choice=False
    )


class SettingsForm(FlaskForm):
    name = StringField(_l("Agency name"), validators=[ValidName(200)])
    legal_name = StringField(_l("Legal name"), validators=[Optional(), Length(max=300)])
    country = SelectField(_l("Country"), choices=[], validate_choice=False)
    vat_number = StringField(_l("VAT id"), validators=[Optional(), Length(max=40)])
    fiscal_code = StringField(_l("Fiscal code"), validators=[Optional(), Length(max=40)])
    address = StringField(
        _l("Address"),
        validators=[Optional(), Length(max=500)],
        description=_l("Street and number"),
    )
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=20)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    province = StringField(
        _l("Province"),
        validators=[Optional(), Length(max=40)],
        description=_l("Italy: two-letter code, like MI"),
    )
    iban = StringField(
        _l("IBAN"),
        validators=[Optional(), Length(max=42)],
        description=_l("For bank transfers; printed on invoices"),
    )
    tax_regime = SelectField(
        _l("Tax regime (Italy)"),
        choices=[("", "—")] + [(code, code) for code in TAX_REGIMES],
        validate_choice=False,
    )
    default_locale = SelectField(
        _l("Default language"), choices=[("en", "English"), ("it", "Italiano")]
    )
    timezone = SelectField(_l("Time zone"), choices=[], validate_choice=False)
    default_currency = SelectField(_l("Default currency"), choices=[], validate_choice=False)


class LogoForm(FlaskForm):
    logo = FileField(_l("Logo (PNG or JPEG, at most 1 MB)"), validators=[FileRequired()])


class AcceptNewForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[ValidName(200)])
    password = PasswordField(
        _l("Choose a password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
    )


class AcceptExistingForm(FlaskForm):
    """The signed-in invitee confirms; no password is asked (it is never checked here)."""
