"""Facebook Page connector against the loopback Graph API (no engine): feed and photo posts,
comment replies, verify, inbound comments, errors read from ``error.code`` (not the HTTP
status), and exactly one post after a commit-then-drop."""

from __future__ import annotations

import json

import pytest

from agency.publishing.connectors.base import ErrorClass, PublishError, connector_class
from agency.publishing.connectors.facebook import FacebookPageConnector
from tests.connector_helpers import Checkpoints, loopback_client, outgoing, png
from tests.fakes.facebook import FakeGraph, graph_error


@pytest.fixture
def fake():
    with FakeGraph() as service:
        service.page = service.add_page("Pasticceria Rossi", token="page-token")
        yield service


@pytest.fixture
def checkpoints():
    return Checkpoints()


@pytest.fixture
def connector(fake, checkpoints):
    settings = {"page_id": fake.page["id"], "access_token": "page-token", "graph_base": fake.url}
    with loopback_client() as http:
        yield FacebookPageConnector(settings, http, checkpoints)


def feed(fake) -> str:
    return f"/v23.0/{fake.page['id']}/feed"


def test_facebook_page_is_registered_under_its_network_name():
    assert connector_class("facebook_page") is FacebookPageConnector


def test_publish_text_with_a_link_goes_to_the_page_feed(fake, connector):
    published = connector.publish(outgoing("New menu! https://rossi.example/menu"))
    [post] = fake.page_posts(fake.page)
    assert published.external_id == post["id"]
    assert published.url == f"https://www.facebook.com/{post['id']}"
    assert (post["message"], post["link"]) == (
        "New menu! https://rossi.example/menu",
        "https://rossi.example/menu",
    )
    request = fake.calls("POST", feed(fake))[0]
    assert request.header("authorization") == "Bearer page-token"
    assert "access_token" not in request.query  # the token never travels in a URL


def test_publish_with_an_image_uploads_the_photo_with_its_caption(fake, connector, tmp_path):
    published = connector.publish(outgoing("Fresh bread", media=(png(tmp_path, alt="Bread"),)))
    [post] = fake.page_posts(fake.page)
    assert published.external_id == post["id"]  # the feed post, not the photo object
    assert (post["message"], post["alt_text"]) == ("Fresh bread", "Bread")
    assert post["photo_bytes"] > 0


def test_reply_goes_to_the_comment_it_answers(fake, connector):
    post = connector.publish(outgoing("Open on Sunday"))
    question = fake.add_comment(post.external_id, "Until when?")
    reply = connector.publish_reply(
        outgoing("Until 1 pm.", reply_to=question["id"], reply_root=post.external_id)
    )
    stored = fake.comments[reply.external_id]
    assert stored["parent"] == question["id"] and stored["on"] == post.external_id
    assert stored["from"]["id"] == fake.page["id"]
    assert fake.calls("POST", f"/v23.0/{question['id']}/comments")


def test_verify_names_the_page_and_its_picture(connector, fake):
    info = connector.verify()
    assert info.handle == "Pasticceria Rossi"
    assert info.avatar_url == f"https://scontent.example/{fake.page['id']}.jpg"
    assert fake.calls("GET", "/v23.0/me")[0].arg("fields") == "id,name,picture"


def test_verify_refuses_a_token_of_another_page(fake, connector):
    connector.settings = {**connector.settings, "page_id": "999"}
    with pytest.raises(PublishError) as caught:
        connector.verify()
    assert caught.value.error_class is ErrorClass.PERMANENT


def test_inbound_comments_fetched_twice_with_the_cursor_come_once(fake, connector):
    post = connector.publish(outgoing("Tell us your favourite cake"))
    first = fake.add_comment(post.external_id, "Tiramisu!", name="Anna")
    connector.publish_reply(outgoing("Good choice", reply_to=first["id"]))  # our own: skipped
    second = fake.add_comment(post.external_id, "Cannoli", name="Luca", parent=first["id"])
    items, cursor = connector.fetch_inbound(None)
    assert [i.external_id for i in items] == [first["id"], second["id"]]
    assert items[0].author_name == "Anna" and items[0].parent_external_id == post.external_id
    assert items[1].parent_external_id == first["id"]
    assert items[1].root_external_id == post.external_id
    again, same_cursor = connector.fetch_inbound(cursor)
    assert again == [] and same_cursor == cursor
    third = fake.add_comment(post.external_id, "Babà", name="Gio")
    newer, _ = connector.fetch_inbound(cursor)
    assert [i.external_id for i in newer] == [third["id"]]


@pytest.mark.parametrize(
    ("status", "code", "subcode", "expected"),
    [
        (400, 190, 463, "auth_expired"),  # token expired, answered as 400
        (401, 102, None, "auth_expired"),
        (400, 4, None, "retryable"),  # application request limit
        (403, 17, None, "retryable"),
        (400, 32, None, "retryable"),
        (400, 613, None, "retryable"),
        (500, 1, None, "retryable"),  # unknown: transient by the docs
        (503, 2, None, "retryable"),
        (400, 100, None, "permanent"),
        (400, 200, None, "permanent"),
        (400, 368, None, "permanent"),
        (500, 999, None, "unknown_outcome"),  # an unexplained 5xx after sending
    ],
)
def test_errors_are_classified_by_graph_code_not_http_status(
    fake, connector, status, code, subcode, expected
):
    fake.fail("POST", feed(fake), status, graph_error(f"(#{code}) Something", code, subcode))
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class == ErrorClass(expected)
    assert caught.value.message == f"(#{code}) Something"


def test_page_rate_limit_waits_for_the_regain_estimate(fake, connector):
    usage = {
        fake.page["id"]: [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 7,
            }
        ]
    }
    fake.fail(
        "POST",
        feed(fake),
        400,
        graph_error("(#32) Page request limit reached", 32),
        {"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert caught.value.retry_after == 7 * 60


def test_a_200_carrying_a_graph_error_is_still_an_error(fake, connector):
    fake.fail("POST", feed(fake), 200, graph_error("(#100) Bad", 100))
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.PERMANENT


def test_commit_then_drop_is_unknown_and_find_existing_finds_the_one_post(
    fake, connector, checkpoints
):
    item = outgoing("Grand opening")
    fake.drop_after_commit("POST", feed(fake))
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    found = connector.find_existing(checkpoints.retry(item))
    [post] = fake.page_posts(fake.page)
    assert found is not None and found.external_id == post["id"]


def test_a_retry_answered_506_duplicate_returns_the_existing_post(fake, connector, checkpoints):
    item = outgoing("Only once please")
    fake.drop_after_commit("POST", feed(fake))
    with pytest.raises(PublishError):
        connector.publish(item)
    again = connector.publish(checkpoints.retry(item))
    [post] = fake.page_posts(fake.page)
    assert again.external_id == post["id"]
    assert fake.calls("GET", feed(fake))  # looked up, not posted twice


def test_a_506_with_nothing_to_find_fails_permanently(fake, connector):
    fake.fail("POST", feed(fake), 400, graph_error("(#506) Duplicate status message", 506))
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.PERMANENT


def test_a_dropped_reply_is_found_among_the_parents_comments(fake, connector, checkpoints):
    post = connector.publish(outgoing("Post"))
    question = fake.add_comment(post.external_id, "Price?")
    item = outgoing("Five euros", reply_to=question["id"])
    fake.drop_after_commit("POST", f"/v23.0/{question['id']}/comments")
    with pytest.raises(PublishError):
        connector.publish_reply(item)
    found = connector.find_existing(checkpoints.retry(item))
    mine = [c for c in fake.comments.values() if c["from"]["id"] == fake.page["id"]]
    assert len(mine) == 1 and found.external_id == mine[0]["id"]


def test_find_existing_is_none_when_nothing_landed(fake, connector, checkpoints):
    item = outgoing("Never arrived")
    fake.fail("POST", feed(fake), 503, "<html>Service Unavailable</html>")
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    assert connector.find_existing(checkpoints.retry(item)) is None


def test_text_and_image_limits_fail_before_any_call(fake, connector, tmp_path):
    with pytest.raises(PublishError):
        connector.publish(outgoing("", media=()))
    with pytest.raises(PublishError):
        connector.publish(outgoing("two", media=(png(tmp_path, "a.png"), png(tmp_path, "b.png"))))
    assert fake.requests == []


def test_engine_style_shared_state_reconciles_within_the_same_attempt(fake, connector, checkpoints):
    item = outgoing("Shared state", state=checkpoints)
    fake.drop_after_commit("POST", feed(fake))
    with pytest.raises(PublishError):
        connector.publish(item)
    assert connector.find_existing(item).external_id == fake.page_posts(fake.page)[0]["id"]


def test_a_200_without_an_id_is_an_unknown_outcome(fake, connector):
    fake.fail("POST", feed(fake), 200, {"success": True})
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME


def test_an_older_post_with_the_same_text_is_not_mistaken_for_this_target(fake, connector):
    """Reconciling before any attempt reached Facebook finds nothing: last week's identical
    post belongs to another target."""
    connector.publish(outgoing("Weekly special", target_id="last-week"))
    assert connector.find_existing(outgoing("Weekly special", target_id="this-week")) is None
