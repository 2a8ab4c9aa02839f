# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""The one connector interface (DESIGN.md §7): every network validates what it would refuse
with the editor's own limits before any call, and Mastodon/Bluesky classify transport errors
with the shared rule (a read sent again is safe; a write that may have landed is unknown)."""

from __future__ import annotations

import httpx
import pytest

from agency.channels import connect
from agency.channels.models import Channel
from agency.db import db
from agency.publishing.connectors.base import Connector, ErrorClass, Outgoing
from agency.publishing.connectors.bluesky import BlueskyConnector
from agency.publishing.connectors.mastodon import MastodonConnector
from tenants.context import tenant_context
from tests.publishing_support import (  # noqa: F401 - fixtures
    Shop,
    _publishing_app,
    app,
    mastodon,
    run_publish,
)

CONNECTORS = connect.load_connectors()


def _outgoing(text: str) -> Outgoing:
    return Outgoing(target_id="t1", idempotency_key="k1", text=text)


@pytest.mark.parametrize("network", sorted(CONNECTORS))
def test_every_connector_validates_with_the_editors_limits(network):
    from agency.content import limits

    cls = CONNECTORS[network]
    assert "validate" in Connector.__dict__  # part of the one interface, not an extra
    counted = limits.count(network, "x" * 400_000)
    problems = cls({}, None).validate(_outgoing("x" * (counted.limit + 1)))  # type: ignore[arg-type]
    assert problems and any(str(counted.limit) in p for p in problems), problems
    if not limits.needs_image(network):
        assert cls({}, None).validate(_outgoing("Fine text")) == []  # type: ignore[arg-type]


def test_mastodon_counts_links_as_23_and_honours_the_instance_limit():
    long_link = "https://example.com/" + "a" * 600
    assert MastodonConnector({}, None).validate(_outgoing(long_link)) == []  # type: ignore[arg-type]
    small = MastodonConnector({"max_characters": "10"}, None)  # type: ignore[arg-type]
    assert small.validate(_outgoing("a" * 11)) == [
        "Mastodon allows 10 characters; this text counts 11."
    ]


def test_bluesky_counts_graphemes():
    family = "👨‍👩‍👧"  # one grapheme, five code points
    assert BlueskyConnector({}, None).validate(_outgoing(family * 300)) == []  # type: ignore[arg-type]
    assert BlueskyConnector({}, None).validate(_outgoing(family * 301))  # type: ignore[arg-type]


def test_a_text_the_network_would_refuse_fails_before_any_call(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "abcdefghij" * 4)
    with tenant_context(shop.agency_id):  # the instance's limit went down after approval
        channel = db.session.get(Channel, toots)
        channel.settings = {**channel.settings, "max_characters": "10"}
        db.session.commit()
    assert run_publish(shop, post_id) == ["failed"]
    assert shop.targets(post_id)[toots].last_error == (
        "Mastodon allows 10 characters; this text counts 40."
    )
    assert mastodon.calls("POST", "/api/v1/statuses") == []


@pytest.mark.parametrize(
    ("cls", "settings"),
    [
        (MastodonConnector, {"instance_url": "https://m.example"}),
        (BlueskyConnector, {"pds_url": "https://m.example"}),
    ],
)
def test_transport_errors_follow_the_shared_rule(cls, settings):
    connector = cls(settings, None)
    read = httpx.Request("GET", "https://m.example/api/v1/statuses/1")
    write = httpx.Request("POST", "https://m.example/api/v1/statuses")
    cases = [
        (httpx.ReadTimeout("timed out", request=read), ErrorClass.RETRYABLE),
        (httpx.ReadTimeout("timed out", request=write), ErrorClass.UNKNOWN_OUTCOME),
        (httpx.RemoteProtocolError("dropped", request=write), ErrorClass.UNKNOWN_OUTCOME),
        (httpx.ConnectError("refused", request=write), ErrorClass.RETRYABLE),  # never sent
    ]
    for exc, expected in cases:
        error = connector.classify(exc)
        assert error.error_class is expected, (exc, error.error_class)
        assert error.message.startswith("https://m.example: ")
