"""Instagram connector against the loopback Graph API (no engine): container checkpointed
before publishing, status polling, a retry never making a second container nor publishing
twice, comment replies, verify, inbound comments, error classes, the public image URL."""

from __future__ import annotations

import pytest

from agency.publishing.connectors.base import ErrorClass, PublishError, connector_class
from agency.publishing.connectors.instagram import InstagramConnector, public_media_url
from tests.connector_helpers import Checkpoints, loopback_client, outgoing, png
from tests.fakes.facebook import graph_error
from tests.fakes.instagram import FakeInstagramGraph


@pytest.fixture
def fake():
    with FakeInstagramGraph() as service:
        page = service.add_page("Rossi", token="page-token")
        service.account = service.add_instagram(page, "pasticceria_rossi")
        yield service


@pytest.fixture
def checkpoints():
    return Checkpoints()


@pytest.fixture
def connector(fake, checkpoints, tmp_path):
    settings = {
        "ig_user_id": fake.account["id"],
        "access_token": "page-token",
        "graph_base": fake.url,
        "public_media_url": "https://media.regia.example/m",
        "media_root": str(tmp_path),
    }
    with loopback_client() as http:
        made = InstagramConnector(settings, http, checkpoints)
        made.poll_seconds = 0.01
        yield made


def path(fake, edge: str) -> str:
    return f"/v23.0/{fake.account['id']}/{edge}"


def test_instagram_is_registered_under_its_network_name():
    assert connector_class("instagram") is InstagramConnector


def test_publish_checkpoints_the_container_then_polls_then_publishes(
    fake, connector, checkpoints, tmp_path
):
    published = connector.publish(outgoing("Our new cake", media=(png(tmp_path, "cake.png"),)))
    [media] = fake.media_of(fake.account)
    assert published.external_id == media["id"]
    assert published.url == f"https://www.instagram.com/p/{media['id']}/"
    [container] = fake.containers.values()
    assert checkpoints["ig_container"] == container["id"]
    assert container["image_url"] == "https://media.regia.example/m/cake.png"
    assert media["caption"] == "Our new cake"
    assert fake.calls("POST", path(fake, "media_publish"))[0].form()["creation_id"] == [
        container["id"]
    ]
    assert len(fake.calls("GET", f"/v23.0/{container['id']}")) >= 2  # IN_PROGRESS, FINISHED


def test_a_retry_with_a_stored_container_never_creates_a_second_one(
    fake, connector, checkpoints, tmp_path
):
    item = outgoing("Retry me", media=(png(tmp_path),))
    fake.fail("POST", path(fake, "media_publish"), 400, graph_error("Server error", -1, 2207001))
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.RETRYABLE
    connector.publish(checkpoints.retry(item))
    assert len(fake.containers) == 1
    assert len(fake.calls("POST", path(fake, "media"))) == 1
    assert len(fake.media_of(fake.account)) == 1


def test_commit_then_drop_of_media_publish_is_found_not_published_twice(
    fake, connector, checkpoints, tmp_path
):
    item = outgoing("Exactly once", media=(png(tmp_path),))
    fake.drop_after_commit("POST", path(fake, "media_publish"))
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    found = connector.find_existing(checkpoints.retry(item))
    [media] = fake.media_of(fake.account)
    assert found is not None and found.external_id == media["id"]
    # Even a blind retry sees the container PUBLISHED and returns the same media.
    again = connector.publish(checkpoints.retry(item))
    assert again.external_id == media["id"]
    assert len(fake.calls("POST", path(fake, "media_publish"))) == 1


def test_find_existing_is_none_while_the_container_is_unpublished(
    fake, connector, checkpoints, tmp_path
):
    item = outgoing("Not yet", media=(png(tmp_path),))
    fake.fail("POST", path(fake, "media_publish"), 503, graph_error("Service", 999))
    with pytest.raises(PublishError) as caught:
        connector.publish(item)
    assert caught.value.error_class is ErrorClass.UNKNOWN_OUTCOME
    assert connector.find_existing(checkpoints.retry(item)) is None
    assert connector.find_existing(item) is None  # no container: nothing can have landed


def test_an_expired_container_is_replaced(fake, connector, checkpoints, tmp_path):
    item = outgoing("Old container", media=(png(tmp_path),))
    fake.fail("POST", path(fake, "media_publish"), 400, graph_error("Server error", -1))
    with pytest.raises(PublishError):
        connector.publish(item)
    fake.containers[checkpoints["ig_container"]]["status_code"] = "EXPIRED"
    connector.publish(checkpoints.retry(item))
    assert len(fake.containers) == 2 and len(fake.media_of(fake.account)) == 1


def test_a_container_in_error_fails_permanently(fake, connector, tmp_path):
    fake.processing_fails = True
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Bad image", media=(png(tmp_path),)))
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert fake.media_of(fake.account) == []
    assert fake.calls("POST", path(fake, "media_publish")) == []


def test_a_container_still_processing_is_retryable_and_kept(fake, connector, checkpoints, tmp_path):
    fake.polls_until_finished = 10**6
    connector.poll_attempts = 3
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Slow", media=(png(tmp_path),)))
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert checkpoints["ig_container"] in fake.containers


def test_an_image_is_required(fake, connector):
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Text only"))
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "image" in caught.value.message
    assert fake.requests == []


def test_reply_to_a_comment_uses_the_replies_edge(fake, connector, tmp_path):
    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    question = fake.add_comment(post.external_id, "Gluten free?", name="Anna")
    reply = connector.publish_reply(
        outgoing("Yes!", reply_to=question["id"], reply_root=post.external_id)
    )
    assert fake.calls("POST", f"/v23.0/{question['id']}/replies")[0].form()["message"] == ["Yes!"]
    assert fake.comments[reply.external_id]["parent"] == question["id"]


def test_reply_without_a_root_finds_out_the_parent_is_a_comment(fake, connector, tmp_path):
    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    question = fake.add_comment(post.external_id, "Vegan?", name="Anna")
    reply = connector.publish_reply(outgoing("Some are", reply_to=question["id"]))
    assert fake.comments[reply.external_id]["parent"] == question["id"]


def test_a_reply_to_a_reply_answers_its_parent_comment(fake, connector, tmp_path):
    """Instagram replies nest one level: the engine only knows the inbox item's id."""
    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    question = fake.add_comment(post.external_id, "Vegan?", name="Anna")
    follow_up = fake.add_comment(post.external_id, "Me too?", name="Luca", parent=question["id"])
    reply = connector.publish_reply(outgoing("Yes both", reply_to=follow_up["id"]))
    assert fake.comments[reply.external_id]["parent"] == question["id"]
    assert fake.calls("POST", f"/v23.0/{question['id']}/replies")


def test_reply_to_the_post_itself_is_a_comment(fake, connector, tmp_path):
    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    reply = connector.publish_reply(outgoing("Thanks all", reply_to=post.external_id))
    assert fake.comments[reply.external_id]["on"] == post.external_id
    assert fake.calls("POST", f"/v23.0/{post.external_id}/comments")


def test_a_dropped_reply_is_found_not_repeated(fake, connector, checkpoints, tmp_path):
    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    question = fake.add_comment(post.external_id, "Open?", name="Anna")
    item = outgoing("Yes", reply_to=question["id"], reply_root=post.external_id)
    fake.drop_after_commit("POST", f"/v23.0/{question['id']}/replies")
    with pytest.raises(PublishError):
        connector.publish_reply(item)
    found = connector.find_existing(checkpoints.retry(item))
    [reply] = [c for c in fake.comments.values() if c["parent"] == question["id"]]
    assert found.external_id == reply["id"]


def test_verify_names_the_account(connector):
    info = connector.verify()
    assert (info.handle, info.display_name) == ("@pasticceria_rossi", "Pasticceria_Rossi")
    assert info.avatar_url == "https://scontent.example/pasticceria_rossi.jpg"


def test_inbound_comments_and_replies_fetched_twice_come_once(fake, connector, tmp_path):
    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    first = fake.add_comment(post.external_id, "Love it", name="Anna")
    connector.publish_reply(outgoing("Thanks", reply_to=first["id"], reply_root=post.external_id))
    answer = fake.add_comment(post.external_id, "Me too", name="Luca", parent=first["id"])
    items, cursor = connector.fetch_inbound(None)
    assert [i.external_id for i in items] == [first["id"], answer["id"]]
    assert items[0].author_handle == "@anna" and items[0].parent_external_id == post.external_id
    assert items[1].parent_external_id == first["id"]
    again, same = connector.fetch_inbound(cursor)
    assert again == [] and same == cursor


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    [
        (190, None, "auth_expired"),
        (4, None, "retryable"),
        (9, 2207042, "retryable"),  # daily publishing limit
        (-2, 2207003, "retryable"),  # took too long to download the image
        (9007, 2207027, "retryable"),  # media not ready for publishing yet
        (36000, 2207004, "permanent"),  # image too large
        (100, None, "permanent"),
    ],
)
def test_container_errors_are_classified_by_code(
    fake, connector, tmp_path, code, subcode, expected
):
    fake.fail("POST", path(fake, "media"), 400, graph_error("Refused", code, subcode))
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello", media=(png(tmp_path),)))
    assert caught.value.error_class == ErrorClass(expected)


def test_public_media_url_is_the_path_under_media_root(tmp_path):
    (tmp_path / "posts").mkdir()
    image = png(tmp_path / "posts", "a b.png")
    settings = {"public_media_url": "https://cdn.example/media/", "media_root": str(tmp_path)}
    assert public_media_url(image, settings) == "https://cdn.example/media/posts/a%20b.png"


def test_without_a_public_media_url_instagram_fails_with_a_clear_message(
    fake, connector, monkeypatch, tmp_path
):
    monkeypatch.delenv("REGIA_PUBLIC_MEDIA_URL", raising=False)
    connector.settings = {k: v for k, v in connector.settings.items() if k != "public_media_url"}
    with pytest.raises(PublishError) as caught:
        connector.publish(outgoing("Hello", media=(png(tmp_path),)))
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert "REGIA_PUBLIC_MEDIA_URL" in caught.value.message


def test_engine_style_shared_state_reconciles_within_the_same_attempt(
    fake, connector, checkpoints, tmp_path
):
    item = outgoing("Shared state", media=(png(tmp_path),), state=checkpoints)
    fake.drop_after_commit("POST", path(fake, "media_publish"))
    with pytest.raises(PublishError):
        connector.publish(item)
    assert connector.find_existing(item).external_id == fake.media_of(fake.account)[0]["id"]


def test_a_comment_reply_needs_no_image_through_the_job_path(fake, connector, tmp_path):
    """The engine validates before it sends: Instagram's image rule is for posts, not for a
    reply to a comment (text only), which must reach the replies edge."""
    import uuid

    from agency.publishing import engine, jobs

    post = connector.publish(outgoing("Post", media=(png(tmp_path),)))
    question = fake.add_comment(post.external_id, "Open on Sunday?", name="Bea")
    reply = outgoing("Yes, 9-13.", reply_to=question["id"], reply_root=post.external_id)
    assert connector.validate(reply) == []
    assert connector.validate(outgoing("Text only")) != []  # a post still needs its image
    claim = engine.Claim(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 1, 1, "key-ig-reply")
    published = jobs._send(connector, reply, claim, True)
    assert fake.comments[published.external_id]["parent"] == question["id"]
