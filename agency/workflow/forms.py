"""The approval-policy form. Shapes and CSRF only; the rules live in the service."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

CLIENT_APPROVAL_CHOICES = [
    ("none", _l("No client approval")),
    ("any", _l("Any one designated client manager")),
    ("all", _l("All designated client managers")),
]
REPLY_CHOICES = [
    ("same", _l("Same as posts")),
    ("internal_only", _l("Internal review only")),
    ("none", _l("No approval (publish at once)")),
]
LATE_CHOICES = [
    ("hold", _l("Hold the post")),
    ("publish_when_approved", _l("Publish as soon as it is approved")),
    ("notify", _l("Publish anyway and notify")),
]


class PolicyForm(FlaskForm):
    internal_review = BooleanField(_l("Internal review before the client sees a post"))
    client_approval = SelectField(_l("Client approval"), choices=CLIENT_APPROVAL_CHOICES)
    approver_ids = SelectMultipleField(
        _l("Designated approvers"),
        choices=[],
        validate_choice=False,  # the service checks approvers and reports clearly
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("None ticked: every client manager of this client may approve."),
    )
    reply_policy = SelectField(_l("Replies"), choices=REPLY_CHOICES)
    lead_time_hours = StringField(
        _l("Lead time (hours)"), description=_l("Approval deadline before the scheduled time")
    )
    reminder_hours = StringField(
        _l("Reminders (hours before the deadline)"), description=_l("Comma-separated, e.g. 24, 4")
    )
    late_rule = SelectField(_l("When approval is late"), choices=LATE_CHOICES)

    def values(self) -> dict[str, object]:
        raw = (self.reminder_hours.data or "").replace(";", ",")
        return {
            "internal_review": bool(self.internal_review.data),
            "client_approval": self.client_approval.data,
            "approver_ids": list(self.approver_ids.data or []),
            "reply_policy": self.reply_policy.data,
            "lead_time_hours": self.lead_time_hours.data,
            "reminder_hours": [part for part in (p.strip() for p in raw.split(",")) if part],
            "late_rule": self.late_rule.data,
        }

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = self._fields.get(name)
            if field is not None:
                field.errors = list(messages)
