"""Defects a reviewer found in the running workflow: a refused post fixed by an edit, conflict
messages in words, late approvals under the policy's late rule, the e-mails' links and words,
and a refused comment on the review pages kept next to its post."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.content.models import Post, PostStatus, PostTarget, TargetStatus
from agency.db import db, utcnow
from agency.notifications.models import Notification
from tenants.context import tenant_context
from tests.content_helpers import act, draft, later, make_desk
from tests.helpers import csrf_from

LINK_RE = re.compile(r"https?://\S+/review/([^\s?]+)")


def _row(desk, post_id: str) -> Post:
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        return db.session.scalar(select(Post).where(Post.id == uuid.UUID(str(post_id))))


def _targets(desk, post_id: str) -> dict[str, str]:
    """Channel id → target status."""
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        rows = db.session.scalars(
            select(PostTarget).where(PostTarget.post_id == uuid.UUID(str(post_id)))
        )
        return {str(t.channel_id): t.status for t in rows}


def _refused_by_network(desk, post_id: str, outcome: dict[str, TargetStatus]) -> None:
    """As if the post had been approved, scheduled and sent: each target's ``outcome``."""
    statuses = set(outcome.values())
    status = PostStatus.FAILED if statuses == {TargetStatus.FAILED} else (
        PostStatus.PARTIALLY_PUBLISHED
    )  # fmt: skip
    with tenant_context(desk.ids["agency"]):
        post = db.session.scalar(select(Post).where(Post.id == uuid.UUID(post_id)))
        post.status, post.approved_revision = status.value, post.revision
        post.client_revision = post.revision
        for target in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id)):
            target.status = outcome[str(target.channel_id)].value
            if target.status == TargetStatus.FAILED.value:
                target.last_error = "Refused: the text is too long"
        db.session.commit()


@pytest.fixture
def desk(app, database_url):
    return make_desk()


# -- 1. a post the network refused can be fixed ---------------------------------------------


def test_a_failed_post_can_be_edited_and_goes_through_approval_again(client, desk):
    post = draft(client, desk, scheduled_at=later())
    _refused_by_network(desk, post["id"], {desk.ids["mastodon"]: TargetStatus.FAILED})
    r = client.patch(
        f"/api/v1/posts/{post['id']}", json={"body": "Shorter now"}, headers=desk.h("staff")
    )
    assert r.status_code == 200, r.get_json()
    row = _row(desk, post["id"])
    assert (row.status, row.revision, row.approved_revision) == ("in_review", 2, None)


def test_a_fixed_partially_published_post_sends_only_the_failed_targets(client, desk, monkeypatch):
    from agency.publishing import service as publishing

    sent: list[str] = []
    monkeypatch.setattr(
        publishing, "enqueue_publish", lambda _a, target_id, *args, **kw: sent.append(target_id)
    )
    mastodon, x = desk.ids["mastodon"], desk.ids["x"]
    post = draft(client, desk, scheduled_at=later(), channel_ids=[mastodon, x])
    _refused_by_network(
        desk, post["id"], {mastodon: TargetStatus.PUBLISHED, x: TargetStatus.FAILED}
    )
    # The channel it already went out on cannot be dropped: its publication is on record.
    r = client.patch(
        f"/api/v1/posts/{post['id']}", json={"channel_ids": [x]}, headers=desk.h("staff")
    )
    assert r.status_code == 422, r.get_json()
    assert "already published" in str(r.get_json())
    r = client.patch(
        f"/api/v1/posts/{post['id']}", json={"body": "Fixed text"}, headers=desk.h("staff")
    )
    assert r.status_code == 200, r.get_json()
    assert act(client, desk, post["id"], "approve", "manager").status_code == 200
    r = act(client, desk, post["id"], "approve", "cm")
    assert r.get_json()["status"] == "scheduled", r.get_json()
    assert _targets(desk, post["id"]) == {
        mastodon: TargetStatus.PUBLISHED.value,
        x: TargetStatus.SCHEDULED.value,
    }
    with tenant_context(desk.ids["agency"]):
        x_target = db.session.scalar(
            select(PostTarget.id).where(
                PostTarget.post_id == uuid.UUID(post["id"]),
                PostTarget.channel_id == uuid.UUID(x),
            )
        )
    assert sent == [x_target]  # one job: the failed target's, none for the published one


def _web(app, who):  # noqa: ANN001, ANN202
    from tests.helpers import AuthActions

    web = app.test_client()
    assert AuthActions(web).login(who.email).status_code == 302
    return web


def test_the_post_page_offers_edit_on_a_failed_post(app, client, desk):
    post = draft(client, desk, scheduled_at=later())
    _refused_by_network(desk, post["id"], {desk.ids["mastodon"]: TargetStatus.FAILED})
    web = _web(app, desk.users["staff"])
    page = web.get(f"/a/{desk.agency.slug}/posts/{post['id']}").get_data(as_text=True)
    assert f"/posts/{post['id']}/edit" in page


# -- 2. conflicts in words ------------------------------------------------------------------


def test_a_refused_action_says_why_in_words(client, desk):
    post = draft(client, desk, scheduled_at=later())
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    r = act(client, desk, post["id"], "submit", "staff")
    assert r.status_code == 409
    message = str(r.get_json())
    assert "This post was already sent to the client." in message
    assert "state awaiting_client" not in message and "be submit." not in message
    _refused_by_network(desk, post["id"], {desk.ids["mastodon"]: TargetStatus.PUBLISHED})
    with tenant_context(desk.ids["agency"]):
        db.session.scalar(select(Post).where(Post.id == uuid.UUID(post["id"]))).status = "published"
        db.session.commit()
    r = act(client, desk, post["id"], "approve", "manager")
    assert r.status_code == 409
    assert "This post is already published." in str(r.get_json())
    assert "cannot be approve" not in str(r.get_json())


# -- 3. late approvals ----------------------------------------------------------------------


def _late_desk(rule: str):  # noqa: ANN202
    # Due in 10 hours with a 24-hour lead time: the approval deadline passed 14 hours ago.
    return make_desk(internal_review=False, lead_time_hours=24, late_rule=rule)


def _events(desk, post_id: str) -> tuple[set, set]:
    db.session.rollback()
    with tenant_context(desk.ids["agency"]):
        told = {
            (str(n.user_id), n.event)
            for n in db.session.scalars(
                select(Notification).where(Notification.post_id == uuid.UUID(post_id))
            )
        }
        actions = set(
            db.session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject_id == uuid.UUID(post_id))
            )
        )
    return told, actions


def test_a_late_approval_under_hold_is_held_and_the_agency_is_told(client, app, database_url):
    desk = _late_desk("hold")
    post = draft(client, desk, scheduled_at=later(10))
    assert act(client, desk, post["id"], "submit", "staff").get_json()["status"] == (
        "awaiting_client"
    )
    r = act(client, desk, post["id"], "approve", "cm")
    assert r.status_code == 200
    assert r.get_json()["status"] == "approved"  # held: not scheduled
    told, actions = _events(desk, post["id"])
    assert (desk.ids["staff"], "held_late") in told
    assert (desk.ids["owner"], "held_late") in told
    assert "post.late_held" in actions


def test_a_late_approval_under_notify_is_scheduled_and_the_agency_is_told(
    client, app, database_url
):
    desk = _late_desk("notify")
    post = draft(client, desk, scheduled_at=later(10))
    act(client, desk, post["id"], "submit", "staff")
    r = act(client, desk, post["id"], "approve", "cm")
    assert r.get_json()["status"] == "scheduled"
    told, actions = _events(desk, post["id"])
    assert (desk.ids["staff"], "approved_late") in told
    assert (desk.ids["manager"], "approved_late") in told
    assert "post.approved_late" in actions


def test_an_approval_in_time_is_scheduled_without_a_late_notice(client, app, database_url):
    desk = _late_desk("hold")
    post = draft(client, desk, scheduled_at=later(72))
    act(client, desk, post["id"], "submit", "staff")
    assert act(client, desk, post["id"], "approve", "cm").get_json()["status"] == "scheduled"
    told, actions = _events(desk, post["id"])
    assert not {e for _u, e in told} & {"held_late", "approved_late"}
    assert "post.late_held" not in actions


def test_the_approver_reads_that_a_late_approval_is_held(smtp, database_url):
    desk = _late_desk("hold")
    http = smtp.client
    post = draft(http, desk, scheduled_at=later(10))
    act(http, desk, post["id"], "submit", "staff")
    mail = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    text = mail.get_body(("plain",)).get_content()
    # The deadline passed before the mail was sent: it is not asked for, it is said overdue.
    assert "Please decide by" not in text
    assert "has passed" in text
    token = LINK_RE.search(text).group(1)
    csrf = csrf_from(http.get("/login").get_data(as_text=True))
    r = http.post(
        f"/review/{token}/{post['id']}/approve",
        data={"csrf_token": csrf, "revision": "1"},
        follow_redirects=True,
    )
    assert "the post is held" in r.get_data(as_text=True)


# -- 4. and 8. the e-mails ------------------------------------------------------------------


def test_review_mails_link_in_their_language_and_name_the_post(smtp, database_url):
    desk = make_desk(internal_review=False)
    with tenant_context(desk.ids["agency"]):
        from tenants.models import User

        db.session.get(User, desk.users["cm"].id).locale = "it"
        db.session.commit()
    post = draft(smtp.client, desk, body="Menu d'estate in arrivo")
    act(smtp.client, desk, post["id"], "submit", "staff")
    mail = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    text = mail.get_body(("plain",)).get_content()
    assert re.search(r"/review/[^\s?]+\?lang=it\b", text), text
    assert "Menu d'estate in arrivo" in str(mail["Subject"])
    assert "Menu d'estate in arrivo" in text
    assert "\n\n\n" not in text  # no publishing time: no blank lines where it would be


def test_the_approved_mail_names_client_and_text_and_keeps_the_comment(smtp, database_url):
    desk = make_desk(internal_review=False)
    post = draft(smtp.client, desk, body="Summer menu", scheduled_at=later())
    act(smtp.client, desk, post["id"], "submit", "staff")
    smtp.messages.clear()
    act(smtp.client, desk, post["id"], "approve", "cm", comment="Lovely, go ahead")
    [mail] = [m for m in smtp.messages if m["To"] == desk.users["staff"].email]
    assert "Bellavista" in str(mail["Subject"]) and "Summer menu" in str(mail["Subject"])
    text = mail.get_body(("plain",)).get_content()
    assert "Lovely, go ahead" in text and "Summer menu" in text
    assert "?lang=" in text


def test_the_reminder_is_not_the_first_request_word_for_word(smtp, database_url):
    from agency.content.jobs import remind_approvers

    desk = make_desk(internal_review=False)
    post = draft(smtp.client, desk, body="Summer menu", scheduled_at=later())
    act(smtp.client, desk, post["id"], "submit", "staff")
    first = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    smtp.messages.clear()
    with tenant_context(desk.ids["agency"]):
        remind_approvers(desk.ids["agency"], post["id"], 1)
    reminder = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    assert str(reminder["Subject"]) != str(first["Subject"])
    assert "Reminder" in str(reminder["Subject"])
    assert "reminder" in reminder.get_body(("plain",)).get_content()


# -- 5. a refused comment stays, next to its post -------------------------------------------


def _link_for(smtp, desk, post_id: str) -> str:
    act(smtp.client, desk, post_id, "submit", "staff")
    mail = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    return LINK_RE.search(mail.get_body(("plain",)).get_content()).group(1)


def test_a_too_long_comment_on_the_link_page_is_kept_with_the_reason(smtp, database_url):
    desk = make_desk(internal_review=False)
    http = smtp.client
    post = draft(http, desk, scheduled_at=later())
    token = _link_for(smtp, desk, post["id"])
    page = http.get(f"/review/{token}").get_data(as_text=True)
    assert 'maxlength="10000"' in page
    csrf = csrf_from(page)
    long = "Please change the second line. " * 400  # 12,400 characters
    r = http.post(
        f"/review/{token}/{post['id']}/request-changes",
        data={"csrf_token": csrf, "revision": "1", "comment": long},
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "The form expired" not in body
    assert "the limit is 10000" in body
    assert long.strip() in body  # the text is kept, in that post's field
    assert f'id="comment-{post["id"]}-error"' in body
    assert _row(desk, post["id"]).status == "awaiting_client"


def test_an_empty_change_request_on_the_link_page_is_said_at_its_post(smtp, database_url):
    desk = make_desk(internal_review=False)
    http = smtp.client
    post = draft(http, desk, scheduled_at=later())
    token = _link_for(smtp, desk, post["id"])
    csrf = csrf_from(http.get(f"/review/{token}").get_data(as_text=True))
    r = http.post(
        f"/review/{token}/{post['id']}/request-changes",
        data={"csrf_token": csrf, "revision": "1", "comment": ""},
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert f'id="comment-{post["id"]}-error"' in body
    assert "Say what should change, or why." in body


def test_a_too_long_comment_on_the_post_page_is_kept_with_the_reason(app, client, desk):
    post = draft(client, desk, scheduled_at=later())
    act(client, desk, post["id"], "submit", "staff")
    web = _web(app, desk.users["manager"])
    page = web.get(f"/a/{desk.agency.slug}/posts/{post['id']}").get_data(as_text=True)
    assert 'maxlength="10000"' in page
    long = "x" * 10_001
    r = web.post(
        f"/a/{desk.agency.slug}/posts/{post['id']}/request-changes",
        data={"csrf_token": csrf_from(page), "revision": "1", "comment": long},
    )
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert "The form expired" not in body and "the limit is 10000" in body
    assert long in body
    assert _row(desk, post["id"]).status == "in_review"


def test_a_late_deadline_is_after_the_lead_time(client, app, database_url):
    """Sanity for the late tests: a post due in 10 hours under a 24-hour lead time."""
    desk = _late_desk("hold")
    post = draft(client, desk, scheduled_at=later(10))
    act(client, desk, post["id"], "submit", "staff")
    row = _row(desk, post["id"])
    assert row.approval_deadline is not None
    assert row.approval_deadline.replace(tzinfo=None) < (utcnow() - timedelta(hours=13)).replace(
        tzinfo=None
    )


# -- 6. a new review link, confirmations ----------------------------------------------------


def test_the_agency_sends_the_review_link_again(smtp, database_url):
    from agency.content.models import ReviewLink

    desk = make_desk(internal_review=False)
    http = smtp.client
    post = draft(http, desk, scheduled_at=later())
    act(http, desk, post["id"], "submit", "staff")
    old = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    old_token = LINK_RE.search(old.get_body(("plain",)).get_content()).group(1)
    with tenant_context(desk.ids["agency"]):  # the client's links were revoked
        for link in db.session.scalars(select(ReviewLink)):
            link.revoked_at = utcnow()
        db.session.commit()
    assert http.get(f"/review/{old_token}").status_code == 403
    smtp.messages.clear()
    web = _web(smtp.app, desk.users["staff"])
    page = web.get(f"/a/{desk.agency.slug}/posts/{post['id']}").get_data(as_text=True)
    assert "Send the review link again" in page
    r = web.post(
        f"/a/{desk.agency.slug}/posts/{post['id']}/resend-link",
        data={"csrf_token": csrf_from(page)},
    )
    assert r.status_code == 302
    flashed = web.get(r.headers["Location"]).get_data(as_text=True)
    assert "A new review link was e-mailed to 2 client approvers." in flashed, flashed[-3000:]
    to = sorted(m["To"] for m in smtp.messages)
    assert to == sorted([desk.users["cm"].email, desk.users["cm2"].email])
    mail = next(m for m in smtp.messages if m["To"] == desk.users["cm"].email)
    token = LINK_RE.search(mail.get_body(("plain",)).get_content()).group(1)
    assert token != old_token and http.get(f"/review/{token}").status_code == 200
    _told, actions = _events(desk, post["id"])
    assert "post.review_link_resent" in actions


def test_a_review_link_is_sent_again_only_for_a_post_awaiting_the_client(client, app, desk):
    post = draft(client, desk, scheduled_at=later())
    web = _web(app, desk.users["staff"])
    page = web.get(f"/a/{desk.agency.slug}/posts/{post['id']}").get_data(as_text=True)
    assert "Send the review link again" not in page
    r = web.post(
        f"/a/{desk.agency.slug}/posts/{post['id']}/resend-link",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "still a draft" in r.get_data(as_text=True)
    _told, actions = _events(desk, post["id"])
    assert "post.review_link_resent" not in actions


def test_revoking_links_and_tokens_asks_first(app, desk):
    from tests.factories import token_for  # noqa: F401 - the desk's users have tokens

    web = _web(app, desk.users["owner"])
    posts = web.get(f"/a/{desk.agency.slug}/posts/?client_id={desk.ids['client']}")
    html = posts.get_data(as_text=True)
    assert re.search(r'revoke[^"]*"[^>]*data-confirm="', html), "revoke links asks first"
    tokens = web.get("/account/tokens").get_data(as_text=True)
    assert "revoke" in tokens and re.search(r'/revoke"[^>]*data-confirm="', tokens)


# -- 7. a client switched to "no client approval" -------------------------------------------


def test_a_post_sent_before_client_approval_was_switched_off_stays_the_clients(client, app, desk):
    from agency.workflow.models import ApprovalPolicy

    post = draft(client, desk, scheduled_at=later())
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    with tenant_context(desk.ids["agency"]):
        db.session.scalar(select(ApprovalPolicy)).client_approval = "none"
        db.session.commit()
    cm = _web(app, desk.users["cm"])
    home = cm.get(f"/a/{desk.agency.slug}/").get_data(as_text=True)
    assert post["id"] in home  # the portal lists it as waiting for them
    staff_page = (
        _web(app, desk.users["staff"])
        .get(f"/a/{desk.agency.slug}/posts/{post['id']}")
        .get_data(as_text=True)
    )
    assert "no longer approves posts" in staff_page
    r = act(client, desk, post["id"], "approve", "cm")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "scheduled"


def test_the_link_page_keeps_the_mails_language_through_its_forms(smtp, database_url):
    desk = make_desk(internal_review=False)
    http = smtp.client
    post = draft(http, desk, scheduled_at=later())
    token = _link_for(smtp, desk, post["id"])
    page = http.get(f"/review/{token}?lang=it", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert f"/review/{token}/{post['id']}/approve?lang=it" in html
    r = http.post(
        f"/review/{token}/{post['id']}/request-changes?lang=it",
        data={"csrf_token": csrf_from(html), "revision": "1", "comment": "x" * 10_001},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert "il massimo è 10000" in r.get_data(as_text=True)
    r = http.post(
        f"/review/{token}/{post['id']}/approve?lang=it",
        data={"csrf_token": csrf_from(html), "revision": "1"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("?lang=it")
