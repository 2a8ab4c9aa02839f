"""LinkedIn connector against the loopback versioned REST API (no engine): posts with the
version headers, little-text commentary, images, comment replies, verify, inbound comments,
error classes, DUPLICATE_POST as already published, and one post after a commit-then-drop."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from agency.publishing.connectors.base import ErrorClass, PublishError, connector_class
from agency.publishing.connectors.linkedin import LinkedInConnector, little_text
from tests.connector_helpers import Checkpoints, loopback_client, outgoing, png
from tests.fakes.linkedin import FakeLinkedIn, li_error


@pytest.fixture
def fake():
    with FakeLinkedIn() as service:
        service.org = service.add_organization("Rossi", token="li-token")
        yield service


@pytest.fixture
def checkpoints():
    return Checkpoints()


@pytest.fixture
def connector(fake, checkpoints):
    settings = {
        "organization_urn": fake.org["urn"],
        "access_token": "li-token",
        "api_base": fake.url,
    }
    with loopback_client() as http:
        yield LinkedInConnector(settings, http, checkpoints)


def test_linkedin_is_registered_under_its_network_name():
    assert connector_class("linkedin") is LinkedInConnector


def test_publish_sends_the_versioned_post_and_reads_the_id_from_the_header(fake, connector):
    published = connector.publish(outgoing("Hello (world) #launch"))
    [post] = fake.posts_by(fake.org)
    assert published.external_id == post["id"]
    assert published.url == f"https://www.linkedin.com/feed/update/{post['id']}/"
    request = fake.calls("POST", "/rest/posts")[0]
    assert request.header("linkedin-version").isdigit()
    assert request.header("x-restli-protocol-version") == "2.0.0"
    body = request.json()
    assert body["author"] == fake.org["urn"]
    assert body["commentary"] == r"Hello \(world\) {hashtag|\#|launch}"
    assert (body["visibility"], body["lifecycleState"]) == ("PUBLIC", "PUBLISHED")
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED"


def test_little_text_escapes_every_reserved_character():
    assert little_text(r"a|b{c}d@e[f]g(h)i<j>k\l*m_n~o") == (
        r"a\|b\{c\}d\@e\[f\]g\(h\)i\<j\>k\\l\*m\_n\~o"
    )


def test_publish_with_an_image_uploads_it_first(fake, connector, checkpoints, tmp_path):
    connector.publish(outgoing("With a picture", media=(png(tmp_path, alt="Cake"),)))
    [post] = fake.posts_by(fake.org)
    [(urn, image)] = fake.images.items()
    assert post["content"]["media"] == {"id": urn, "altText": "Cake"}
    assert image["status"] == "AVAILABLE" and image["bytes"] > 0
    assert checkpoints["li_image"] == urn


def test_reply_to_a_comment_names_the_parent_comment_and_the_post(fake, connector):
    post = connector.publish(outgoing("Post"))
    question = fake.add_comment(post.external_id, "Where?")
    reply = connector.publish_reply(
        outgoing("Milan", reply_to=question["commentUrn"], reply_root=post.external_id)
    )
    request = fake.calls(
        "POST", f"/rest/socialActions/{quote(question['commentUrn'], safe='')}/comments"
    )[0]
    body = request.json()
    assert body["parentComment"] == question["commentUrn"]
    assert body["object"] == post.external_id and body["actor"] == fake.org["urn"]
    assert fake.comments[reply.external_id]["parentComment"] == question["commentUrn"]


def test_reply_to_the_post_is_a_first_level_comment(fake, connector):
    post = connector.publish(outgoing("Post"))
    reply = connector.publish_reply(outgoing("First!", reply_to=post.external_id))
    stored = fake.comments[reply.external_id]
    assert stored["object"] == post.external_id and "parentComment" not in stored


def test_verify_names_the_organization(connector):
    info = connector.verify()
    assert (info.handle, info.display_name) == ("rossi", "Rossi")


def test_inbound_comments_fetched_twice_with_the_cursor_come_once(fake, connector):
    post = connector.publish(outgoing("Post"))
    first = fake.add_comment(post.external_id, "Nice")
    connector.publish_reply(
        outgoing("Thanks", reply_to=first["commentUrn"], reply_root=post.external_id)
    )
    nested = fake.add_comment(first["commentUrn"], "You're welcome", parent=first["commentUrn"])
    items, cursor = connector.fetch_inbound(None)
    assert [i.external_id for i in items] == [first["commentUrn"], nested["commentUrn"]]
    assert items[0].parent_external_id == post.external_id
    assert items[1].parent_external_id == first["commentUrn"]
    again, same = connector.fetch_inbound(cursor)
    assert again == [] and same == cursor
    newer = fake.add_comment(post.external_id, "More")
    later, _ = connector.fetch_inbound(cursor)
    assert [i.external_id for i in later] == [newer["commentUrn"]]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "INVALID_ACCESS_TOKEN", "auth_expired"),
        (403, "ACCESS_DENIED", "permanent"),
        (422, "UNPROCESSABLE_ENTITY", "permanent"),
        (426, "NONEXISTENT_VERSION", "permanent"),
        (500, "INTERNAL_SERVER_ERROR", "unknown_outcome"),
        (504, "GATEWAY_TIMEOUT", "unknown_outcome"),
    ],
)
def test_publish_failures_are_classified(fake, connector, status, code, expected):
    fake.fail("POST", "/rest/posts", *li_error(status, code, "Refused"))
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class == ErrorClass(expected)
    assert caught.value.message == f"Refused ({code})"
    assert fake.posts_by(fake.org) == []


def test_rate_limit_is_retryable_with_the_servers_wait(fake, connector):
    status, body = li_error(429, "TOO_MANY_REQUESTS", "Resource level throttle", 101)
    fake.fail("POST", "/rest/posts", status, body, {"Retry-After": "60"})
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert caught.value.retry_after == 60


def test_duplicate_post_is_treated_as_already_published(fake, connector, checkpoints):
    item = outgoing("Exactly once")
    fake.drop_after_commit("POST", "/rest/posts")
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    again = connector.publish(checkpoints.retry(item))
    [post] = fake.posts_by(fake.org)
    assert again.external_id == post["id"]
    assert len(fake.calls("POST", "/rest/posts")) == 2  # the retry was refused as a duplicate


def test_commit_then_drop_find_existing_finds_the_one_post(fake, connector, checkpoints):
    item = outgoing("Find me #please")
    fake.drop_after_commit("POST", "/rest/posts")
    with pytest.raises(PublishError):
        connector.publish(item)
    found = connector.find_existing(checkpoints.retry(item))
    [post] = fake.posts_by(fake.org)
    assert found is not None and found.external_id == post["id"]
    lookup = fake.calls("GET", "/rest/posts")[0]
    assert lookup.arg("q") == "author" and lookup.arg("author") == fake.org["urn"]


def test_find_existing_is_none_when_nothing_landed(fake, connector, checkpoints):
    item = outgoing("Never arrived")
    fake.fail("POST", "/rest/posts", *li_error(502, "BAD_GATEWAY", "Bad gateway"))
    with pytest.raises(PublishError):
        connector.publish(item)
    assert connector.find_existing(checkpoints.retry(item)) is None


def test_a_dropped_reply_is_found_among_the_comments(fake, connector, checkpoints):
    post = connector.publish(outgoing("Post"))
    item = outgoing("A reply", reply_to=post.external_id)
    fake.drop_after_commit(
        "POST", f"/rest/socialActions/{quote(post.external_id, safe='')}/comments"
    )
    with pytest.raises(PublishError):
        connector.publish_reply(item)
    found = connector.find_existing(checkpoints.retry(item))
    [comment] = fake.comments.values()
    assert found.external_id == comment["commentUrn"]


def test_too_long_text_fails_before_any_call(fake, connector):
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("x" * 3001))
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert fake.requests == []


def test_engine_style_shared_state_reconciles_within_the_same_attempt(fake, connector, checkpoints):
    item = outgoing("Shared state", state=checkpoints)
    fake.drop_after_commit("POST", "/rest/posts")
    with pytest.raises(PublishError):
        connector.publish(item)
    assert connector.find_existing(item).external_id == fake.posts_by(fake.org)[0]["id"]


def test_a_201_without_x_restli_id_is_an_unknown_outcome(fake, connector):
    fake.fail("POST", "/rest/posts", 201, None)
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
