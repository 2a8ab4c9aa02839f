"""E-mails of the workflow: mentions, and the author told of decisions; none on a refusal."""

from __future__ import annotations

from tests.content_helpers import act, draft, make_desk


def _to(messages) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(m["To"], str(m["Subject"])) for m in messages]


def test_a_mentioned_member_is_emailed(smtp, database_url):
    desk = make_desk()
    post = draft(smtp.client, desk)
    r = smtp.client.post(
        f"/api/v1/posts/{post['id']}/comments",
        json={"body": "Can you check the hashtag?", "mentions": [desk.ids["manager"]]},
        headers=desk.h("staff"),
    )
    assert r.status_code == 201, r.get_json()
    [mail] = smtp.messages
    assert mail["To"] == desk.users["manager"].email
    assert "mentioned you" in str(mail["Subject"])
    assert "Can you check the hashtag?" in mail.get_body(("plain",)).get_content()


def test_a_client_user_cannot_be_mentioned_in_an_internal_comment(smtp, database_url):
    desk = make_desk()
    post = draft(smtp.client, desk)
    r = smtp.client.post(
        f"/api/v1/posts/{post['id']}/comments",
        json={"body": "psst", "visibility": "internal", "mentions": [desk.ids["cm"]]},
        headers=desk.h("staff"),
    )
    assert r.status_code == 422 and "mentions" in r.get_json()["errors"]["json"]
    assert smtp.messages == []


def test_the_author_hears_of_changes_requested(smtp, database_url):
    desk = make_desk()
    post = draft(smtp.client, desk)
    act(smtp.client, desk, post["id"], "submit", "staff")
    act(smtp.client, desk, post["id"], "request-changes", "manager", comment="Less emoji")
    assert _to(smtp.messages) == [
        (
            desk.users["staff"].email,
            f"{desk.users['manager'].name} asked for changes to your post"
            ' – "Hello from Bellavista"',
        )
    ]
