"""X connector against the loopback X API v2 (no engine): publish, reply, verify, mentions,
error classes, token refresh, and exactly one tweet after a commit-then-drop."""

from __future__ import annotations

import time

import pytest

from agency.outbound import OutboundClient
from agency.publishing.connectors.base import ErrorClass, PublishError, connector_class
from agency.publishing.connectors.x import XConnector
from tests.connector_helpers import Checkpoints, loopback_client, outgoing, png
from tests.fakes.x import FakeX


@pytest.fixture
def fake():
    with FakeX() as service:
        service.me = service.add_user("regia_agency", token="good-token", refresh="refresh-1")
        yield service


@pytest.fixture
def checkpoints():
    return Checkpoints()


@pytest.fixture
def connector(fake, checkpoints):
    settings = {
        "api_base": fake.url,
        "access_token": "good-token",
        "refresh_token": "refresh-1",
        "client_id": fake.client_id,
    }
    with loopback_client() as http:
        yield XConnector(settings, http, checkpoints)


def test_x_is_registered_under_its_network_name():
    assert connector_class("x") is XConnector


def test_publish_creates_one_tweet_with_uploaded_images_and_alt_text(fake, connector, tmp_path):
    image = png(tmp_path, alt="A red square")
    published = connector.publish(
        outgoing("Hello & welcome https://regia.example/a", media=(image,))
    )
    [tweet] = fake.posts_by(fake.me)
    assert published.external_id == tweet["id"]
    assert published.url == f"https://x.com/i/web/status/{tweet['id']}"
    assert tweet["text"] == "Hello & welcome https://regia.example/a"
    [media_id] = tweet["media_ids"]
    assert fake.media[media_id]["alt_text"] == "A red square"
    assert fake.calls("POST", "/2/tweets")[0].header("authorization") == "Bearer good-token"


def test_a_retry_reuses_images_uploaded_by_the_failed_attempt(
    fake, connector, checkpoints, tmp_path
):
    fake.fail("POST", "/2/tweets", 503, {"title": "Service Unavailable"})
    item = outgoing("With a picture", media=(png(tmp_path),))
    with pytest.raises(PublishError):
        connector.publish(item)
    connector.publish(checkpoints.retry(item))
    assert len(fake.calls("POST", "/2/media/upload")) == 1
    assert len(fake.posts_by(fake.me)) == 1


def test_reply_names_the_parent_tweet(fake, connector):
    fan = fake.add_user("fan")
    question = fake.add_tweet(fan, "@regia_agency when do you open?")
    reply = connector.publish_reply(outgoing("At nine.", reply_to=question["id"]))
    body = fake.calls("POST", "/2/tweets")[0].json()
    assert body["reply"] == {"in_reply_to_tweet_id": question["id"]}
    assert fake.posts_by(fake.me)[0]["in_reply_to"] == question["id"]
    assert reply.external_id == fake.posts_by(fake.me)[0]["id"]


def test_verify_reports_the_handle_name_and_avatar(connector):
    info = connector.verify()
    assert info.handle == "@regia_agency"
    assert info.display_name == "Regia_Agency"
    assert info.avatar_url.endswith("regia_agency_normal.jpg")


def test_mentions_fetched_twice_with_the_cursor_come_once(fake, connector):
    fan = fake.add_user("fan")
    first = fake.add_tweet(fan, "@regia_agency hi")
    ours = connector.publish(outgoing("Our news"))
    second = fake.add_tweet(fan, "great news", in_reply_to=ours.external_id)
    fake.add_tweet(fan, "not about you")
    items, cursor = connector.fetch_inbound(None)
    assert [i.external_id for i in items] == [first["id"], second["id"]]  # oldest first
    assert (items[0].kind, items[1].kind) == ("mention", "comment")
    assert items[1].parent_external_id == ours.external_id
    assert items[0].author_handle == "@fan" and items[0].text == "@regia_agency hi"
    again, cursor_again = connector.fetch_inbound(cursor)
    assert again == [] and cursor_again == cursor
    third = fake.add_tweet(fan, "@regia_agency one more")
    newer, _ = connector.fetch_inbound(cursor)
    assert [i.external_id for i in newer] == [third["id"]]
    assert fake.calls("GET", f"/2/users/{fake.me['id']}/mentions")[-1].arg("since_id") == cursor


def test_mentions_follow_next_token_pages(fake, connector):
    fan = fake.add_user("fan")
    made = [fake.add_tweet(fan, f"@regia_agency n{i}") for i in range(105)]
    items, cursor = connector.fetch_inbound(None)
    assert [i.external_id for i in items] == [t["id"] for t in made]
    assert cursor == made[-1]["id"]


@pytest.mark.parametrize(
    ("status", "body", "expected", "message"),
    [
        (401, {"title": "Unauthorized", "detail": "Unauthorized"}, "auth_expired", "Unauthorized"),
        (403, {"title": "Forbidden", "detail": "Not permitted"}, "permanent", "Not permitted"),
        (400, {"errors": [{"message": "Bad text"}], "title": "Invalid"}, "permanent", "Bad text"),
        (500, {"title": "Internal Server Error"}, "unknown_outcome", "Internal Server Error"),
        (503, {"title": "Service Unavailable"}, "unknown_outcome", "Service Unavailable"),
    ],
)
def test_publish_failures_are_classified(fake, connector, status, body, expected, message):
    fake.fail("POST", "/2/tweets", status, body)
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class == ErrorClass(expected)
    assert caught.value.message == message
    assert fake.posts_by(fake.me) == []


def test_rate_limit_is_retryable_after_the_reset_epoch(fake, connector):
    reset = int(time.time()) + 120
    fake.fail(
        "POST",
        "/2/tweets",
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests"},
        {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
    )
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert 110 <= caught.value.retry_after <= 121
    assert caught.value.message == "Too Many Requests"


def test_a_read_that_fails_with_5xx_is_retryable_not_unknown(fake, connector):
    fake.fail("GET", "/2/users/me", 502, {"title": "Bad Gateway"})
    with pytest.raises(PublishError) as caught:
        connector.verify()
    assert caught.value.error_class is ErrorClass.RETRYABLE


def test_too_long_text_fails_permanently_before_any_call(fake, connector):
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("x" * 281))
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "280" in caught.value.message
    assert fake.requests == []


def test_commit_then_drop_is_unknown_and_find_existing_finds_the_one_tweet(
    fake, connector, checkpoints
):
    item = outgoing("Launch day & more: https://regia.example/launch")
    fake.drop_after_commit("POST", "/2/tweets")
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    assert "x_started_at" in checkpoints
    found = connector.find_existing(checkpoints.retry(item))
    [tweet] = fake.posts_by(fake.me)
    assert found is not None and found.external_id == tweet["id"]
    lookup = fake.calls("GET", f"/2/users/{fake.me['id']}/tweets")[-1]
    assert lookup.arg("start_time") is not None


def test_find_existing_is_none_when_the_tweet_never_landed(fake, connector, checkpoints):
    item = outgoing("Never sent")
    fake.fail("POST", "/2/tweets", 503, {"title": "Service Unavailable"})
    with pytest.raises(PublishError):
        connector.publish(item)
    assert connector.find_existing(checkpoints.retry(item)) is None


def test_a_blind_retry_after_a_drop_gets_the_existing_tweet_not_a_second(
    fake, connector, checkpoints
):
    item = outgoing("Only once")
    fake.drop_after_commit("POST", "/2/tweets")
    with pytest.raises(PublishError):
        connector.publish(item)
    again = connector.publish(checkpoints.retry(item))
    [tweet] = fake.posts_by(fake.me)
    assert again.external_id == tweet["id"]


def test_refresh_returns_rotated_tokens_and_the_connector_uses_them(fake, connector):
    fake.tokens.pop("good-token")  # the access token expired
    with pytest.raises(PublishError) as caught:
        connector.verify()
    assert caught.value.error_class is ErrorClass.AUTH_EXPIRED
    fresh = connector.refresh_credentials()
    assert set(fresh) == {"access_token", "refresh_token"}
    assert fresh["refresh_token"] != "refresh-1"
    assert "refresh-1" not in fake.refresh_tokens  # spent
    form = fake.calls("POST", "/2/oauth2/token")[0].form()
    assert form["grant_type"] == ["refresh_token"] and form["client_id"] == [fake.client_id]
    assert connector.verify().handle == "@regia_agency"


def test_refresh_with_a_revoked_refresh_token_is_none(fake, connector):
    fake.refresh_tokens.clear()
    assert connector.refresh_credentials() is None


def test_engine_style_shared_state_reconciles_within_the_same_attempt(fake, connector, checkpoints):
    """The engine hands the checkpoint dict itself as ``state``: what publish stored is seen."""
    item = outgoing("Shared state", state=checkpoints)
    fake.drop_after_commit("POST", "/2/tweets")
    with pytest.raises(PublishError):
        connector.publish(item)
    assert connector.find_existing(item).external_id == fake.posts_by(fake.me)[0]["id"]


def test_a_2xx_without_an_id_is_an_unknown_outcome_not_a_failure(fake, connector):
    fake.fail("POST", "/2/tweets", 201, "<html>ok</html>")
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello"))
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME


def test_a_timeout_after_sending_is_unknown_but_a_timed_out_read_is_retryable(fake):
    settings = {"api_base": fake.url, "access_token": "good-token"}
    with OutboundClient(allow_private=True, timeout=0.3) as http:
        connector = XConnector(settings, http)
        fake.delay("POST", "/2/tweets", 1.0)
        with pytest.raises(PublishError) as sent:
            connector.publish(outgoing("Slow network"))
        fake.delay("GET", "/2/users/me", 1.0)
        with pytest.raises(PublishError) as read:
            connector.verify()
    assert sent.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    assert read.value.error_class is ErrorClass.RETRYABLE


def test_find_existing_without_a_recorded_attempt_finds_nothing(fake, connector):
    connector.publish(outgoing("Same words", target_id="earlier"))
    assert connector.find_existing(outgoing("Same words", target_id="later")) is None
    assert fake.calls("GET", f"/2/users/{fake.me['id']}/tweets") == []  # not even asked


def test_a_confidential_client_refreshes_with_basic_auth(fake, connector):
    connector.settings = {**connector.settings, "client_secret": "s3cret"}
    assert connector.refresh_credentials() is not None
    request = fake.calls("POST", "/2/oauth2/token")[0]
    assert request.header("authorization").startswith("Basic ")
    assert "client_id" not in request.form()
