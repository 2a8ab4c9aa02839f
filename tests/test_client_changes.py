"""What a client reads on a revised post: the changed words before and after, never a unified
diff, a content hash, character counters or network keys; the deadline only while it matters."""

from __future__ import annotations

import re

import pytest

from agency.content.changes import word_changes
from tests.content_helpers import act, draft, later, make_desk
from tests.helpers import page_as

LINK_RE = re.compile(r"https?://\S+/review/([^\s?]+)")
JARGON = ("@@", "+++", "---", "/ 100000", "(mastodon)", "· mastodon")


@pytest.fixture
def revised(smtp, database_url):
    """A post sent to the client, edited by the agency and sent again (revision 2)."""
    desk = make_desk()
    http = smtp.client
    post = draft(http, desk, body="Summer menu <b>is</b> here", scheduled_at=later())
    act(http, desk, post["id"], "submit", "staff")
    act(http, desk, post["id"], "approve", "manager")
    edit = {"body": "Winter menu <b>is</b> here at last"}
    r = http.patch(f"/api/v1/posts/{post['id']}", json=edit, headers=desk.h("staff"))
    assert r.status_code == 200
    act(http, desk, post["id"], "submit", "staff")
    assert act(http, desk, post["id"], "approve", "manager").get_json()["status"] == (
        "awaiting_client"
    )
    return desk, http, post


def _page(smtp, desk, who: str, path: str) -> str:  # noqa: ANN001
    return page_as(smtp.app, desk.users[who], path)


def _hashes(html: str) -> list[str]:
    return re.findall(r"<code[^>]*>[0-9a-f]{12}</code>", html)


def _assert_client_reading(html: str) -> None:
    assert "<del>Summer</del>" in html and "<ins>Winter</ins>" in html
    assert "<ins> at last</ins>" in html or "<ins>at last</ins>" in html
    assert "&lt;b&gt;is&lt;/b&gt;" in html and "<b>is</b>" not in html  # user text escaped
    for jargon in JARGON:
        assert jargon not in html, jargon
    assert not _hashes(html) and "Revision 2" not in html and "revision 2" not in html
    assert "Mastodon" in html


def test_a_client_manager_reads_the_changed_words_on_the_post_page(revised, smtp):
    desk, _http, post = revised
    html = _page(smtp, desk, "cm", f"/a/{desk.agency.slug}/posts/{post['id']}")
    _assert_client_reading(html)
    assert ">Versions</h2>" in html and ">Revisions</h2>" not in html


def test_a_link_reviewer_reads_the_changed_words_since_the_version_they_saw(revised, smtp):
    desk, http, _post = revised
    tokens = [
        LINK_RE.search(m.get_body(preferencelist=("plain",)).get_content()).group(1)
        for m in smtp.messages
        if m["To"] == desk.users["cm"].email
    ]
    html = http.get(f"/review/{tokens[-1]}").get_data(as_text=True)
    _assert_client_reading(html)


def test_the_agency_keeps_the_revision_diff_and_the_counters(revised, smtp):
    desk, _http, post = revised
    html = _page(smtp, desk, "manager", f"/a/{desk.agency.slug}/posts/{post['id']}")
    assert "Revision 2" in html and "@@" in html and _hashes(html)
    assert "/ 100000 characters" in html or re.search(r"\d+ / \d+ characters", html)
    assert "(Mastodon)" in html and "(mastodon)" not in html


def test_the_deadline_shows_only_while_the_post_waits_for_approval(revised, smtp):
    desk, http, post = revised
    path = f"/a/{desk.agency.slug}/posts/{post['id']}"
    assert "Approval needed by" in _page(smtp, desk, "cm", path)
    assert act(http, desk, post["id"], "approve", "cm").get_json()["status"] in (
        "approved",
        "scheduled",
    )
    for who in ("cm", "manager"):
        assert "Approval needed by" not in _page(smtp, desk, who, path), who


def test_word_changes_mark_words_and_escape_them():
    out = word_changes("a <i>b</i> c", "a <i>x</i> c d")
    assert str(out["before"]) == "a <del>&lt;i&gt;b&lt;/i&gt;</del> c"
    assert str(out["after"]) == "a <ins>&lt;i&gt;x&lt;/i&gt;</ins> c<ins> d</ins>"


def test_a_manual_target_reads_published_by_hand(app):
    from agency.channels.service import network_label

    with app.test_request_context():
        assert network_label("manual") == "Published by hand"
        assert network_label("bluesky") == "Bluesky"
        assert network_label("unknown") == "unknown"
