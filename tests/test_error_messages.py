"""Field errors shown to people: messages only, never the field names or channel ids they are
keyed by for the API."""

from __future__ import annotations

import uuid

from agency.content import decisions
from agency.errors import IllegalTransition, ValidationFailed, describe, error_messages

CHANNEL = "87dd736d-0000-4000-8000-000000000000"
PER_CHANNEL = {"channels": {CHANNEL: ["Facebook (by hand): write the text."]}}


def test_error_messages_flatten_per_channel_problems_without_the_channel_id():
    errors = {"body": ["Too long."], **PER_CHANNEL}
    assert error_messages(errors) == ["Too long.", "Facebook (by hand): write the text."]
    assert describe(ValidationFailed(errors)) == "Too long. Facebook (by hand): write the text."
    assert describe(IllegalTransition("Not now.")) == "Not now."


def test_bulk_approve_reports_a_refused_post_by_its_messages(monkeypatch):
    def decide(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ValidationFailed(PER_CHANNEL)

    monkeypatch.setattr(decisions, "decide", decide)
    done, problems = decisions.approve_many(None, [(uuid.uuid4(), 1)])  # type: ignore[arg-type]
    assert (done, problems) == (0, ["Facebook (by hand): write the text."])
