"""Reminders before the approval deadline: scheduled when a post reaches the client,
sent only to approvers who have not decided, and not at all once the post moved on."""

from __future__ import annotations

from datetime import datetime, timedelta

from rq.registry import ScheduledJobRegistry

from agency.content.jobs import remind_approvers
from agency.jobs import queue
from tests.content_helpers import act, draft, later, make_desk


def test_reminder_is_scheduled_before_the_deadline_and_reaches_the_undecided(smtp, database_url):
    desk = make_desk(client_approval="all", lead_time_hours=24, reminder_hours=[4])
    when = later(72)
    post = draft(smtp.client, desk, scheduled_at=when)
    act(smtp.client, desk, post["id"], "submit", "staff")
    act(smtp.client, desk, post["id"], "approve", "manager")
    registry = ScheduledJobRegistry(queue=queue("mail"))
    [job_id] = registry.get_job_ids()
    assert job_id.startswith(f"remind-{post['id']}-1-")
    expected = datetime.fromisoformat(when) - timedelta(hours=24 + 4)
    assert abs(registry.get_scheduled_time(job_id).timestamp() - expected.timestamp()) < 2

    act(smtp.client, desk, post["id"], "approve", "cm")
    smtp.messages.clear()
    assert remind_approvers(desk.ids["agency"], post["id"], 1) == 1
    assert [m["To"] for m in smtp.messages] == [desk.users["cm2"].email]

    act(smtp.client, desk, post["id"], "approve", "cm2")  # approved: nobody to remind
    smtp.messages.clear()
    assert remind_approvers(desk.ids["agency"], post["id"], 1) == 0
    assert smtp.messages == []
