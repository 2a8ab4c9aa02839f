"""Post editor and review forms: shapes, CSRF and the client's local time (rules: service)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from agency.content.editing import MAX_BODY, MAX_MEDIA

STATUS_LABELS = {
    "draft": _l("Draft"),
    "in_review": _l("In internal review"),
    "awaiting_client": _l("Waiting for approval"),  # the client's word too: one name a state
    "approved": _l("Approved"),
    "scheduled": _l("Scheduled"),
    "publishing": _l("Publishing"),
    "published": _l("Published"),
    "partially_published": _l("Partially published"),
    "failed": _l("Failed"),
    "changes_requested": _l("Changes requested"),
    "rejected": _l("Rejected"),
    "archived": _l("Archived"),
}
# The activity timeline in words (audit actions, decisions, channels), for every reader.
ACTIVITY_LABELS = {
    "post.created": _l("Created"),
    "post.revised": _l("Edited"),
    "post.submitted": _l("Submitted"),
    "post.status_changed": _l("Status changed"),
    # A decision reads as itself ("Approved (revision 2, on the web)"), with no verb before it.
    "post.decided": "",
    "post.commented": _l("Commented"),
    "post.late_held": _l("Held: approved after its approval deadline, not scheduled"),
    "post.approved_late": _l("Approved after its approval deadline; the agency was told"),
    "post.review_link_resent": _l("Review link sent to the client again"),
    "post.target_published": _l("Published on a channel"),
    "post.target_failed": _l("Publishing failed on a channel"),
    "post.target_retried": _l("Publishing retried on a channel"),
    "post.published_by_hand": _l("Marked published by hand"),
    "post.link_corrected": _l("Link of the post published by hand corrected"),
    "post.due_by_hand": _l("Due to be published by hand"),
    "approve": _l("Approved"),
    "request_changes": _l("Asked for changes"),
    "reject": _l("Rejected"),
    "web": _l("on the web"),
    "link": _l("via e-mailed link"),
    "api": _l("through the API"),
}
ACTION_LABELS = {
    "submit": _l("Submit for review"),
    "approve": _l("Approve"),
    "request-changes": _l("Request changes"),
    "reject": _l("Reject"),
    "archive": _l("Archive"),
}
# The flash after each action: what happened, as a sentence.
ACTION_DONE = {
    "submit": _l("Submitted for review."),
    "approve": _l("Approved."),
    "request-changes": _l("Changes requested."),
    "reject": _l("Rejected."),
    "archive": _l("Archived."),
}
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def approve_done(outcome: str | None) -> str:
    """The flash after an approval: a late one says what the client's policy did with it."""
    if outcome == "held":
        return _(
            "Approved, but after the approval deadline: under the agreed policy the post is held "
            "and will not go out at its time. The agency has been told and will agree a new "
            "time with you."
        )
    if outcome == "late":
        return _("Approved after the approval deadline: the post is scheduled all the same.")
    return _("Approved.")


def submit_done(status: str, scheduled_at: datetime | None, timezone: str) -> str:
    """The flash after a submit: where the post went, which the client's policy decides (a
    policy that asks no approval approves it at once, and schedules it if it has a time)."""
    from agency.localtime import local_time

    if status == "awaiting_client":
        return _("Sent to the client for approval.")
    if status == "scheduled":
        return _(
            "Approved at once (this client's policy asks for no approval) and scheduled for "
            "%(when)s.",
            when=local_time(scheduled_at, timezone),
        )
    if status == "approved" and scheduled_at is None:
        return _(
            "Approved at once (this client's policy asks for no approval). It has no publishing "
            "time yet: set one to schedule it."
        )
    if status == "approved":
        return _(
            "Approved at once (this client's policy asks for no approval), but its publishing "
            "time, %(when)s, has passed: it is held until you set a new time.",
            when=local_time(scheduled_at, timezone),
        )
    return str(ACTION_DONE["submit"])  # in internal review


class PostForm(FlaskForm):
    body = TextAreaField(_l("Text"), validators=[Length(max=MAX_BODY)])
    channel_ids = SelectMultipleField(
        _l("Channels"),
        choices=[],
        validate_choice=False,  # the service checks the channels belong to the client
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    scheduled_at = StringField(
        _l("Publish at"),
        validators=[Optional()],
        render_kw={"type": "datetime-local"},
        description=_l("In the client's time zone. Leave empty to publish once approved."),
    )
    media = TextAreaField(
        _l("Images"),
        validators=[Optional(), Length(max=5000)],
        description=_l("One image per line, in order; delete a line to remove the image."),
    )
    upload = FileField(_l("Add an image"), description=_l("JPEG, PNG, GIF or WebP, up to 8 MB."))

    def values(self, form_data, timezone: str) -> dict:  # noqa: ANN001 - a MultiDict
        """The service's input: variants from ``variant-<channel id>`` fields, UTC time."""
        values: dict = {
            "body": self.body.data or "",
            "channel_ids": list(self.channel_ids.data or []),
            "media": [
                line.strip() for line in (self.media.data or "").splitlines() if line.strip()
            ][: MAX_MEDIA + 1],
            "variants": {
                key.removeprefix("variant-"): text
                for key, text in form_data.items()
                if key.startswith("variant-")
                and text.strip()
                and key.removeprefix("variant-") in (self.channel_ids.data or [])
            },
        }
        values["scheduled_at"] = to_utc(self.scheduled_at.data, timezone)
        return values

    def show_errors(self, errors: dict, *, keep_own: bool = False) -> None:
        """The service's ``errors`` under their fields; ``keep_own``: not on a field whose own
        validators already refused it (the same rule, said twice)."""
        for name, messages in errors.items():
            field = self._fields.get(name)
            if keep_own and field is not None and field.errors:
                continue
            if field is None:
                field = self.body  # channel and variant problems are shown with the text
            flat = messages if isinstance(messages, list) else [
                m for group in messages.values() for m in group
            ]  # fmt: skip
            field.errors = [*field.errors, *flat] if isinstance(field.errors, list) else flat


def to_utc(local: str | None, timezone: str) -> datetime | None:
    """A ``datetime-local`` value in the client's zone, as aware UTC (None when empty)."""
    if not local:
        return None
    try:
        naive = datetime.strptime(local.strip()[:16], DATETIME_LOCAL)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)  # refused by the service as not in the future
    return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def to_local(moment: datetime | None, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime(DATETIME_LOCAL) if moment else ""


class ClientChoiceForm(FlaskForm):
    client_id = SelectField(_l("Client"), choices=[])


COMMENT_MAX = 10_000


class DecisionForm(FlaskForm):
    comment = TextAreaField(
        _l("Comment"),
        validators=[
            Optional(),
            Length(
                max=COMMENT_MAX,
                message=_l(
                    "The comment is %(length)d characters long; the limit is %(max)d. Shorten it "
                    "and send it again."
                ),
            ),
        ],
    )
    # The revision the reviewer saw: deciding on a post that changed since is refused.
    revision = IntegerField(validators=[Optional()], widget=HiddenInput())


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=10_000)])
    visibility = SelectField(
        _l("Who sees it"),
        choices=[("internal", _l("Agency only")), ("shared", _l("Shared with the client"))],
    )
