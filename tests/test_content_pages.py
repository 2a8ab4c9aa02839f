"""The post pages through the real forms: draft, submit, review, comments, client view."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from agency.content.models import Post
from agency.db import db
from tenants.context import tenant_context
from tests.content_helpers import act, draft, make_desk
from tests.helpers import form_post


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _login(app, auth, desk, who: str):  # noqa: ANN202
    web = app.test_client()
    assert auth.__class__(web).login(desk.users[who].email).status_code == 302
    return web


def test_staff_drafts_in_the_client_time_zone_and_the_review_loop_runs_on_pages(app, auth, desk):
    with tenant_context(desk.ids["agency"]):
        desk.client.timezone = "Europe/Rome"
        db.session.commit()
    slug = desk.agency.slug
    staff = _login(app, auth, desk, "staff")
    new = f"/a/{slug}/posts/new?client_id={desk.ids['client']}"
    page = staff.get(new)
    assert page.status_code == 200 and "post-editor.js" in page.get_data(as_text=True)
    r = form_post(
        staff, new,
        {"body": "Buongiorno!", "channel_ids": [desk.ids["mastodon"], desk.ids["x"]],
         f"variant-{desk.ids['x']}": "Ciao X", "scheduled_at": "2031-06-01T09:30", "media": ""},
    )  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    post_url = r.headers["Location"]
    post_id = post_url.rstrip("/").rsplit("/", 1)[-1]
    with tenant_context(desk.ids["agency"]):
        row = db.session.scalar(select(Post).where(Post.id == uuid.UUID(str(post_id))))
        assert row.scheduled_at.isoformat() == "2031-06-01T07:30:00+00:00"  # 09:30 in Rome
    assert form_post(staff, f"{post_url}/submit", {}, page=post_url).status_code == 302

    manager = _login(app, auth, desk, "manager")
    html = manager.get(post_url).get_data(as_text=True)
    assert "Approve" in html and "Ciao X" in html and "How it will look" in html
    form_post(manager, f"{post_url}/comments", {"body": "Internal note", "visibility": "internal"},
              page=post_url)  # fmt: skip
    assert (
        form_post(manager, f"{post_url}/approve", {"revision": "1"}, page=post_url).status_code
        == 302
    )

    cm = _login(app, auth, desk, "cm")
    html = cm.get(post_url).get_data(as_text=True)
    assert "Internal note" not in html
    assert "Buongiorno!" in html and "Approve" in html
    r = form_post(cm, f"{post_url}/request-changes", {"comment": "Più breve", "revision": "1"},
                  page=post_url)  # fmt: skip
    assert r.status_code == 302
    with tenant_context(desk.ids["agency"]):
        row = db.session.scalar(
            select(Post)
            .where(Post.id == uuid.UUID(str(post_id)))
            .execution_options(populate_existing=True)
        )
        assert row.status == "changes_requested"


def test_client_list_page_hides_unsent_drafts(app, auth, client, desk):
    sent = draft(client, desk, body="Sent to the client")
    draft(client, desk, body="Agency draft only")
    act(client, desk, sent["id"], "submit", "staff")
    act(client, desk, sent["id"], "approve", "manager")
    cm = _login(app, auth, desk, "cm")
    html = cm.get(f"/a/{desk.agency.slug}/posts/").get_data(as_text=True)
    assert "Sent to the client" in html and "Agency draft only" not in html
    owner = _login(app, auth, desk, "owner")
    html = owner.get(f"/a/{desk.agency.slug}/posts/").get_data(as_text=True)
    assert "Sent to the client" in html and "Agency draft only" in html


def test_editor_shows_limit_errors_naming_the_channel(app, auth, client, desk):
    post = draft(client, desk, body="a" * 300, channel_ids=[desk.ids["x"]])
    staff = _login(app, auth, desk, "staff")
    url = f"/a/{desk.agency.slug}/posts/{post['id']}"
    r = form_post(staff, f"{url}/submit", {}, page=url, follow_redirects=True)
    text = r.get_data(as_text=True)
    assert "Xeet" in text and "280" in text
    assert re.search(r'data-status="draft"', text)


def _media_files(app) -> set:  # noqa: ANN001
    folder = app.config["REGIA"].media_root / "posts"
    return {p for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def _editor_post(web, url: str, data: dict, upload: bytes | None):  # noqa: ANN202
    import io

    from tests.helpers import csrf_from

    fields = {"csrf_token": csrf_from(web.get(url).get_data(as_text=True)), **data}
    if upload is not None:
        fields["upload"] = (io.BytesIO(upload), "pic.png")
    return web.post(url, data=fields, content_type="multipart/form-data")


def _error_of(html: str, field_id: str) -> str:
    return html.split(f'id="{field_id}-error">')[1].split("</div>")[0]


def test_a_refused_post_shows_every_fields_error_at_once_and_keeps_what_was_typed(app, auth, desk):
    staff = _login(app, auth, desk, "staff")
    new = f"/a/{desk.agency.slug}/posts/new?client_id={desk.ids['client']}"
    typed = {
        "body": "Buongiorno a tutti!", "channel_ids": [desk.ids["x"]],
        f"variant-{desk.ids['x']}": "Ciao X", "scheduled_at": "2001-01-01T10:00",
    }  # fmt: skip
    r = _editor_post(staff, new, typed, b"GIF89a not really an image")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    upload_error = _error_of(html, "upload")
    assert "This is not a JPEG, PNG, GIF or WebP image." in upload_error
    assert "Choose the image again" in upload_error
    assert _error_of(html, "scheduled_at") == "Choose a time in the future."  # not hidden
    summary = html.split("data-error-summary")[1].split("</ul>")[0]
    assert "Choose a time in the future." in summary and "not a JPEG" in summary
    # Everything typed is still there.
    assert "\nBuongiorno a tutti!</textarea>" in html and ">Ciao X</textarea>" in html
    assert 'value="2001-01-01T10:00"' in html
    assert re.search(rf'value="{desk.ids["x"]}" id="channel-{desk.ids["x"]}" checked', html)
    # A good image with a bad time: the time's error, the image asked for again, nothing kept.
    from tests.content_helpers import tiny_png

    stored = _media_files(app)
    r = _editor_post(staff, new, {**typed, "channel_ids": []}, tiny_png())
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert _error_of(html, "scheduled_at") == "Choose a time in the future."
    assert _error_of(html, "channel_ids") == "Choose at least one channel."
    assert "Choose the image again" in _error_of(html, "upload")
    with tenant_context(desk.ids["agency"]):
        assert db.session.scalars(select(Post)).all() == []
    assert _media_files(app) == stored  # a refused form stores nothing


def test_an_edit_refused_for_two_reasons_shows_both(app, auth, client, desk):
    post = draft(client, desk, body="First words")
    staff = _login(app, auth, desk, "staff")
    url = f"/a/{desk.agency.slug}/posts/{post['id']}/edit"
    data = {"body": "New words", "channel_ids": [desk.ids["mastodon"]], "scheduled_at": "nope"}
    r = _editor_post(staff, url, {**data, "media": "../../etc/passwd"}, b"%PDF-1.4")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "not a JPEG" in _error_of(html, "upload")
    assert _error_of(html, "media") == "Attach images uploaded for this client."
    assert _error_of(html, "scheduled_at") == "Choose a time in the future."
    assert "\nNew words</textarea>" in html
    assert "First words" in client.get(
        f"/api/v1/posts/{post['id']}", headers=desk.h("staff")
    ).get_data(as_text=True)
