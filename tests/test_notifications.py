"""In-app notifications: written with the change that causes them (never on a refusal), listed
unread first to their recipient only, marked read one by one or all at once, counted in the
navbar for every role that gets them."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from agency.content.jobs import remind_approvers
from agency.db import db
from agency.notifications.models import Notification
from tenants.context import tenant_context
from tests.content_helpers import act, draft, later, make_desk
from tests.helpers import form_post


def _events(desk, who: str) -> list[str]:  # noqa: ANN001
    with tenant_context(desk.ids["agency"]):
        rows = db.session.scalars(
            select(Notification)
            .where(Notification.user_id == uuid.UUID(desk.ids[who]))
            .order_by(Notification.created_at, Notification.id)
        ).all()
        return [n.event for n in rows]


def _badge(html: str) -> str | None:
    found = re.search(r'id="nav-notifications"[^>]*>[^<]*<span[^>]*>(\d+)', html)
    return found.group(1) if found else None


def test_submitting_for_internal_review_notifies_the_reviewers_not_the_author(client, database_url):
    desk = make_desk()
    post = draft(client, desk)
    assert act(client, desk, post["id"], "submit", "staff").status_code == 200
    assert _events(desk, "owner") == ["submitted"]
    assert _events(desk, "manager") == ["submitted"]
    for who in ("staff", "cm", "cm2", "viewer", "finance", "other_cm"):
        assert _events(desk, who) == [], who


def test_a_post_sent_to_the_client_notifies_its_approvers_only(client, database_url):
    desk = make_desk()
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    assert act(client, desk, post["id"], "approve", "manager").status_code == 200
    assert _events(desk, "cm") == ["submitted"] and _events(desk, "cm2") == ["submitted"]
    assert _events(desk, "viewer") == [] and _events(desk, "other_cm") == []


def test_decisions_notify_the_author_with_the_comment(client, auth, database_url):
    desk = make_desk(internal_review=False)
    first, second, third = (draft(client, desk) for _ in range(3))
    for p in (first, second, third):
        act(client, desk, p["id"], "submit", "staff")
    act(client, desk, first["id"], "request-changes", "cm", comment="Less emoji please")
    act(client, desk, second["id"], "reject", "cm", comment="Not our tone")
    act(client, desk, third["id"], "approve", "cm")
    assert _events(desk, "staff") == ["changes_requested", "rejected", "approved"]

    auth.login(desk.users["staff"].email)
    html = client.get(f"/a/{desk.agency.slug}/notifications/").get_data(as_text=True)
    assert "Less emoji please" in html and "Not our tone" in html
    assert "Changes requested" in html and "Rejected" in html and "Approved" in html
    assert desk.users["cm"].name in html


def test_a_mention_notifies_the_member_mentioned(client, database_url):
    desk = make_desk()
    post = draft(client, desk)
    r = client.post(
        f"/api/v1/posts/{post['id']}/comments",
        json={"body": "Check the hashtag?", "mentions": [desk.ids["manager"]]},
        headers=desk.h("staff"),
    )
    assert r.status_code == 201, r.get_json()
    assert _events(desk, "manager") == ["mentioned"]


def test_a_reminder_notifies_the_undecided_approvers_that_the_deadline_is_near(
    client, database_url
):
    desk = make_desk(client_approval="all", internal_review=False, lead_time_hours=24)
    post = draft(client, desk, scheduled_at=later(72))
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "cm")
    assert remind_approvers(desk.ids["agency"], post["id"], 1) == 1
    assert _events(desk, "cm2") == ["submitted", "deadline_near"]
    assert _events(desk, "cm") == ["submitted"]


def test_a_refused_decision_notifies_nobody(client, database_url):
    desk = make_desk(internal_review=False)
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    # Requesting changes without saying what: 422, and no notification to the author.
    assert act(client, desk, post["id"], "request-changes", "cm").status_code == 422
    assert _events(desk, "staff") == []


def test_the_list_shows_unread_first_and_marks_read(client, auth, database_url):
    desk = make_desk(internal_review=False)
    older, newer = draft(client, desk, body="Older post"), draft(client, desk, body="Newer post")
    act(client, desk, older["id"], "submit", "staff")
    act(client, desk, newer["id"], "submit", "staff")
    auth.login(desk.users["cm"].email)
    page = f"/a/{desk.agency.slug}/notifications/"
    html = client.get(page).get_data(as_text=True)
    assert _badge(html) == "2"
    ids = re.findall(r"/notifications/([0-9a-f-]{36})/read", html)
    assert len(ids) == 2
    # Newest first; reading the newest moves it below the unread one.
    assert html.index(newer["id"]) < html.index(older["id"])
    r = form_post(client, f"/a/{desk.agency.slug}/notifications/{ids[0]}/read", {}, page=page)
    assert r.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert _badge(html) == "1"
    assert html.index(older["id"]) < html.index(newer["id"])

    r = form_post(client, f"/a/{desk.agency.slug}/notifications/read-all", {}, page=page)
    assert r.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert _badge(html) is None and "/read" not in html.split("notification-list")[1]


def test_a_member_cannot_read_or_mark_another_members_notification(client, auth, database_url):
    desk = make_desk(internal_review=False)
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    with tenant_context(desk.ids["agency"]):
        theirs = db.session.scalar(
            select(Notification.id).where(Notification.user_id == uuid.UUID(desk.ids["cm"]))
        )
    auth.login(desk.users["cm2"].email)
    page = f"/a/{desk.agency.slug}/notifications/"
    r = form_post(client, f"/a/{desk.agency.slug}/notifications/{theirs}/read", {}, page=page)
    assert r.status_code == 404
    with tenant_context(desk.ids["agency"]):
        assert db.session.get(Notification, theirs).read_at is None
    form_post(client, f"/a/{desk.agency.slug}/notifications/read-all", {}, page=page)
    with tenant_context(desk.ids["agency"]):
        assert db.session.get(Notification, theirs).read_at is None


def test_notifications_of_posts_no_longer_visible_are_not_listed(client, auth, database_url):
    desk = make_desk(internal_review=False)
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "request-changes", "cm", comment="Secret plans")
    from tenants.models import StaffAssignment

    with tenant_context(desk.ids["agency"]):  # the staff member is taken off the client
        for row in db.session.scalars(
            select(StaffAssignment).where(StaffAssignment.client_id == desk.client.id)
        ):
            db.session.delete(row)
        db.session.commit()
    auth.login(desk.users["staff"].email)
    html = client.get(f"/a/{desk.agency.slug}/notifications/").get_data(as_text=True)
    assert "Secret plans" not in html and _badge(html) is None


def test_mark_all_read_leaves_notices_the_member_no_longer_sees_unread(client, auth, database_url):
    """Read-all marks what the list shows: a notice on a client the member was taken off is
    not dismissed unseen, and is there, unread, once they are assigned again."""
    desk = make_desk(internal_review=False)
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "request-changes", "cm", comment="Secret plans")
    from tenants.models import StaffAssignment

    with tenant_context(desk.ids["agency"]):  # the staff member is taken off the client
        assignments = db.session.scalars(
            select(StaffAssignment).where(StaffAssignment.client_id == desk.client.id)
        ).all()
        taken_off = [(row.membership_id, row.client_id) for row in assignments]
        for row in assignments:
            db.session.delete(row)
        db.session.commit()
    auth.login(desk.users["staff"].email)
    page = f"/a/{desk.agency.slug}/notifications/"
    html = client.get(page).get_data(as_text=True)
    assert "Secret plans" not in html and _badge(html) is None
    r = form_post(client, f"/a/{desk.agency.slug}/notifications/read-all", {}, page=page)
    assert r.status_code == 302
    with tenant_context(desk.ids["agency"]):
        hidden = db.session.scalars(
            select(Notification).where(Notification.user_id == uuid.UUID(desk.ids["staff"]))
        ).all()
        assert [n.read_at for n in hidden] == [None]
        for membership_id, client_id in taken_off:  # assigned to the client again
            db.session.add(StaffAssignment(membership_id=membership_id, client_id=client_id))
        db.session.commit()
    html = client.get(page).get_data(as_text=True)
    assert "Secret plans" in html and _badge(html) == "1"


def test_the_navbar_counts_unread_for_each_role_that_gets_them(client, auth, database_url):
    desk = make_desk()
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    expected = {"owner": "1", "manager": "1", "staff": None, "cm": "1", "viewer": None}
    for who, count in expected.items():
        auth.login(desk.users[who].email)
        html = client.get(f"/a/{desk.agency.slug}/").get_data(as_text=True)
        assert 'id="nav-notifications"' in html, who
        assert _badge(html) == count, who
        auth.logout()
    auth.login(desk.users["finance"].email)
    html = client.get(f"/a/{desk.agency.slug}/").get_data(as_text=True)
    assert 'id="nav-notifications"' not in html
    assert client.get(f"/a/{desk.agency.slug}/notifications/").status_code == 403


def test_a_client_notification_shows_the_text_sent_never_a_later_draft(client, auth, database_url):
    desk = make_desk(internal_review=False)
    post = draft(client, desk, body="Text the client saw")
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "request-changes", "cm", comment="Warmer")
    r = client.patch(
        f"/api/v1/posts/{post['id']}", json={"body": "Draft not sent yet"}, headers=desk.h("staff")
    )
    assert r.status_code == 200, r.get_json()
    auth.login(desk.users["cm"].email)
    html = client.get(f"/a/{desk.agency.slug}/notifications/").get_data(as_text=True)
    assert "Text the client saw" in html and "Draft not sent yet" not in html


def _entries(html: str) -> list[str]:
    """Each listed notification's text, whitespace squeezed, in the page's order."""
    items = html.split('id="notification-list"')[1].split("</ul>")[0].split("<li")[1:]
    return [" ".join(re.sub(r"<[^>]+>", " ", item.split(">", 1)[1]).split()) for item in items]


def test_a_notification_whose_post_moved_on_no_longer_asks_for_a_decision(
    client, auth, database_url
):
    desk = make_desk(client_approval="all", internal_review=False)
    decided, waiting, archived = (draft(client, desk, body=f"Post {n}") for n in range(3))
    for post in (decided, waiting, archived):
        act(client, desk, post["id"], "submit", "staff")
    act(client, desk, decided["id"], "approve", "cm")  # cm has decided; cm2 has not yet
    r = client.post(f"/api/v1/posts/{archived['id']}/archive", json={}, headers=desk.h("staff"))
    assert r.status_code == 200, r.get_json()
    page = f"/a/{desk.agency.slug}/notifications/"
    auth.login(desk.users["cm"].email)
    entries = {e.split("Post ")[1][0]: e for e in _entries(client.get(page).get_data(as_text=True))}
    assert entries["1"].startswith("New Waiting for your approval")  # still waits for cm
    assert "Now:" not in entries["1"]
    for n, state in (("0", "Now: Waiting for approval"), ("2", "Now: Withdrawn")):
        assert "Waiting for your approval" not in entries[n], entries[n]
        assert entries[n].startswith("New No longer waiting for you") and state in entries[n]
    auth.logout()
    act(client, desk, decided["id"], "approve", "cm2")  # the last approval: approved
    auth.login(desk.users["cm2"].email)
    entries = {e.split("Post ")[1][0]: e for e in _entries(client.get(page).get_data(as_text=True))}
    assert "No longer waiting for you" in entries["0"] and "Now: Approved" in entries["0"]
    assert entries["1"].startswith("New Waiting for your approval")


def test_an_internal_review_notification_shows_the_agency_the_state_it_moved_to(
    client, auth, database_url
):
    desk = make_desk()
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "request-changes", "owner", comment="Shorter")
    auth.login(desk.users["manager"].email)
    [entry] = _entries(client.get(f"/a/{desk.agency.slug}/notifications/").get_data(as_text=True))
    assert "Waiting for your approval" not in entry
    assert "No longer waiting for you" in entry and "Now: Changes requested" in entry
