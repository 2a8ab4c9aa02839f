"""How the workflow reads: action flashes as sentences, decisions in the activity as what was
decided, one name per post state, and no status line repeated to a client."""

from __future__ import annotations

import pytest

from agency.content.forms import ACTION_DONE, ACTION_LABELS, STATUS_LABELS
from agency.content.portal import CLIENT_STATUS_LABELS
from tests.content_helpers import act, draft, later, make_desk
from tests.helpers import form_post


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _login(app, auth, desk, who: str, lang: str = "en"):  # noqa: ANN202
    web = app.test_client()
    web.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    assert auth.__class__(web).login(desk.users[who].email).status_code == 302
    return web


def _activity(html: str) -> str:
    return html.split('id="activity-heading"')[1].split("</ol>")[0]


def test_each_action_flashes_a_sentence_and_decisions_read_as_themselves(app, auth, desk):
    post_id = draft(app.test_client(), desk)["id"]
    url = f"/a/{desk.agency.slug}/posts/{post_id}"
    staff = _login(app, auth, desk, "staff")
    r = form_post(staff, f"{url}/submit", {}, page=url, follow_redirects=True)
    assert "Submitted for review." in r.get_data(as_text=True)
    manager = _login(app, auth, desk, "manager")
    r = form_post(manager, f"{url}/approve", {"revision": "1"}, page=url, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Approved." in html and "Done:" not in html
    activity = " ".join(_activity(html).split())
    assert "Approved (revision 1, on the web)" in activity and "Decided" not in activity


def test_asking_for_changes_reads_naturally_in_italian(app, auth, desk):
    post_id = draft(app.test_client(), desk)["id"]
    act(app.test_client(), desk, post_id, "submit", "staff")
    url = f"/a/{desk.agency.slug}/posts/{post_id}"
    manager = _login(app, auth, desk, "manager", "it")
    r = form_post(
        manager, f"{url}/request-changes", {"revision": "1", "comment": "Più corto"}, page=url,
        follow_redirects=True,
    )  # fmt: skip
    html = r.get_data(as_text=True)
    assert "Modifiche richieste." in html
    activity = " ".join(_activity(html).split())
    assert "Ha chiesto modifiche (revisione 1, dal web)" in activity
    assert "Decisione" not in activity


def test_every_action_has_a_sentence():
    assert set(ACTION_DONE) == set(ACTION_LABELS)


def test_a_state_has_one_name_for_the_agency_and_the_client():
    hidden = {"draft", "in_review", "changes_requested", "failed", "archived"}  # client's words
    for status, label in STATUS_LABELS.items():
        if status not in hidden:
            assert str(CLIENT_STATUS_LABELS[status]) == str(label), status
    assert str(STATUS_LABELS["awaiting_client"]) == "Waiting for approval"


def test_a_client_sees_waiting_for_approval_once_after_the_agency_revised_the_post(app, auth, desk):
    http = app.test_client()
    post_id = draft(http, desk)["id"]
    act(http, desk, post_id, "submit", "staff")
    act(http, desk, post_id, "approve", "manager")  # to the client: waiting
    r = http.patch(f"/api/v1/posts/{post_id}", json={"body": "Better"}, headers=desk.h("staff"))
    assert r.status_code == 200
    act(http, desk, post_id, "approve", "manager")  # revision 2 to the client: waiting again
    cm = _login(app, auth, desk, "cm")
    activity = " ".join(_activity(cm.get(f"/a/{desk.agency.slug}/posts/{post_id}").text).split())
    assert activity.count("Status changed → Waiting for approval") == 1
    # The audit log keeps both transitions; the agency sees the round in between.
    manager = _login(app, auth, desk, "manager")
    agency = " ".join(_activity(manager.get(f"/a/{desk.agency.slug}/posts/{post_id}").text).split())
    assert agency.count("Status changed → Waiting for approval") == 2


def test_a_submit_the_policy_approves_at_once_says_approved_and_when_it_goes_out(app, auth):
    from agency.db import db
    from tenants.context import tenant_context

    desk = make_desk(client_approval="none", internal_review=False)
    with tenant_context(desk.ids["agency"]):
        desk.client.timezone = "Asia/Tokyo"
        db.session.commit()
    http = app.test_client()
    timed = draft(http, desk, scheduled_at="2031-06-01T09:30:00+00:00")["id"]
    untimed = draft(http, desk)["id"]
    staff = _login(app, auth, desk, "staff")
    url = f"/a/{desk.agency.slug}/posts/{timed}"
    html = form_post(staff, f"{url}/submit", {}, page=url, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Submitted for review." not in html
    assert "Approved at once" in html and "scheduled for 2031-06-01 18:30 JST." in html  # Tokyo
    url = f"/a/{desk.agency.slug}/posts/{untimed}"
    html = form_post(staff, f"{url}/submit", {}, page=url, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Submitted for review." not in html
    assert "Approved at once" in html and "It has no publishing time yet" in html
    # The API says it with the status it answers.
    for fields, status in (({"scheduled_at": later()}, "scheduled"), ({}, "approved")):
        post_id = draft(http, desk, **fields)["id"]
        r = act(http, desk, post_id, "submit", "staff")
        assert r.status_code == 200 and r.get_json()["status"] == status


def test_a_submit_straight_to_the_client_says_it_was_sent_to_the_client(app, auth):
    desk = make_desk(internal_review=False)
    post_id = draft(app.test_client(), desk)["id"]
    url = f"/a/{desk.agency.slug}/posts/{post_id}"
    staff = _login(app, auth, desk, "staff", "it")
    html = form_post(staff, f"{url}/submit", {}, page=url, follow_redirects=True).get_data(
        as_text=True
    )
    assert "Inviato al cliente per l" in html


def _post_audit_actions() -> set[str]:
    """Every "post.…" action the code can record: the string constants of the application's
    modules (the webhook connector's event names are a network payload, not audit actions)."""
    import ast
    import re
    from pathlib import Path

    import agency

    root = Path(agency.__file__).parent
    found: set[str] = set()
    for path in root.rglob("*.py"):
        if "connectors" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and re.fullmatch(r"post\.[a-z_]+", text):
                found.add(text)
    return found


def test_every_post_audit_action_has_an_activity_label():
    from agency.content.forms import ACTIVITY_LABELS

    actions = _post_audit_actions()
    # What the sweep saw (so a broken scan cannot pass by finding nothing).
    assert {"post.created", "post.target_failed", "post.published_by_hand"} <= actions
    missing = sorted(a for a in actions if a not in ACTIVITY_LABELS)
    assert not missing, f"activity labels missing for {missing}"


def test_the_timeline_names_publishing_events_in_italian(app, auth, desk):
    import uuid

    from agency import audit
    from agency.db import db
    from tenants.context import tenant_context

    post = draft(app.test_client(), desk)
    with tenant_context(desk.ids["agency"]):
        for action in ("post.target_failed", "post.target_retried", "post.published_by_hand"):
            audit.record(
                action, actor_id=None, subject_type="post", subject_id=uuid.UUID(post["id"]),
                client_id=desk.client.id, via="job",
            )  # fmt: skip
        db.session.commit()
    web = _login(app, auth, desk, "manager", "it")
    shown = _activity(web.get(f"/a/{desk.agency.slug}/posts/{post['id']}").get_data(as_text=True))
    assert "post.target" not in shown and "post.published_by_hand" not in shown
    assert "Pubblicazione non riuscita" in shown
