# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""The publishing engine in-process against the loopback fakes: outcomes, retries, reconcile,
aggregation, usage, sweeper. (The real worker process is in test_publishing_worker.py.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import func, select

from agency.channels.models import Channel
from agency.db import db, utcnow
from agency.publishing import service
from billing.usage import UsageRecord
from tenants.context import tenant_context
from tests.publishing_support import (  # noqa: F401 - fixtures
    Shop,
    _publishing_app,
    app,
    bluesky,
    mastodon,
    run_publish,
)


def _usage_count(shop: Shop) -> int:
    with tenant_context(shop.agency_id):
        count = db.session.scalar(select(func.count()).select_from(UsageRecord))
        db.session.rollback()
        return count


def test_approved_post_goes_out_once_to_both_networks_with_urls_and_one_usage_row_each(
    app, mastodon, bluesky
):
    shop = Shop()
    toots, sky = shop.mastodon(mastodon), shop.bluesky(bluesky)
    post_id = shop.approved_post([toots, sky], "Fresh bread at https://bellavista.example/pane")
    assert sorted(run_publish(shop, post_id)) == ["published", "published"]
    targets = shop.targets(post_id)
    assert targets[toots].external_url.startswith("https://social.example/@bella/")
    assert targets[sky].external_url.startswith("https://bsky.app/profile/bella.bsky.example/post/")
    assert shop.post(post_id).status == "published"
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1
    facets = bluesky.posts()[0]["value"]["facets"]
    text = "Fresh bread at https://bellavista.example/pane"
    assert facets[0]["index"] == {"byteStart": 15, "byteEnd": len(text.encode())}
    # Run again: nothing more is posted, nothing more is billed.
    assert run_publish(shop, post_id) == ["skipped", "skipped"]
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1
    assert _usage_count(shop) == 2


def test_only_the_approved_text_and_the_channel_variant_are_published(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Base text", variants={str(toots): "Toot variant"})
    run_publish(shop, post_id)
    assert mastodon.statuses[0]["text"] == "Toot variant"


def test_facets_count_utf8_bytes_not_characters(app, bluesky):
    shop = Shop()
    sky = shop.bluesky(bluesky)
    text = "Caffè ☕ con @friend.bsky.example"
    post_id = shop.approved_post([sky], text)
    run_publish(shop, post_id)
    (facet,) = bluesky.posts()[0]["value"]["facets"]
    start = len("Caffè ☕ con ".encode())
    assert facet["index"] == {"byteStart": start, "byteEnd": len(text.encode())}
    assert facet["features"][0]["did"] == "did:plc:friend0000000000000000"


def test_commit_then_drop_ends_with_exactly_one_post_on_each_network(app, mastodon, bluesky):
    shop = Shop()
    toots, sky = shop.mastodon(mastodon), shop.bluesky(bluesky)
    mastodon.drop_after_commit("POST", "/api/v1/statuses")
    bluesky.drop_after_commit("POST", "/xrpc/com.atproto.repo.createRecord")
    post_id = shop.post_id = shop.approved_post([toots, sky])
    assert run_publish(shop, post_id) == ["published", "published"]
    assert len(mastodon.statuses) == 1 and len(bluesky.posts()) == 1
    # Mastodon answered the same key with the same status; Bluesky's record was looked up.
    keys = {r.header("idempotency-key") for r in mastodon.calls("POST", "/api/v1/statuses")}
    assert len(keys) == 1 and len(mastodon.calls("POST", "/api/v1/statuses")) == 2
    assert bluesky.calls("GET", "/xrpc/com.atproto.repo.getRecord")
    assert shop.targets(post_id)[sky].external_id == bluesky.posts()[0]["uri"]


def test_a_429_is_retried_only_after_the_reset_time(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    reset = datetime.now(UTC) + timedelta(seconds=3)
    mastodon.fail(
        "POST", "/api/v1/statuses", 429, {"error": "Too many requests"},
        headers={"X-RateLimit-Reset": reset.isoformat()},
    )  # fmt: skip
    post_id = shop.approved_post([toots])
    assert run_publish(shop, post_id) == ["retry"]
    target = shop.targets(post_id)[toots]
    assert target.status == "scheduled" and target.last_error == "Too many requests"
    assert run_publish(shop, post_id) == ["skipped"]  # backoff not over: nothing sent
    assert len(mastodon.calls("POST", "/api/v1/statuses")) == 1
    time.sleep(max(0.0, (reset - datetime.now(UTC)).total_seconds()) + 0.2)
    assert run_publish(shop, post_id) == ["published"]  # what the scheduled retry job does
    assert shop.targets(post_id)[toots].status == "published"
    second = mastodon.calls("POST", "/api/v1/statuses")[1]
    assert second.at >= reset.timestamp()
    assert len(mastodon.statuses) == 1


def test_a_401_marks_the_channel_needs_reconnect_and_fails_the_post_clearly(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon, token="revoked-token")
    post_id = shop.approved_post([toots])
    assert run_publish(shop, post_id) == ["failed"]
    target = shop.targets(post_id)[toots]
    assert "needs reconnecting" in target.last_error
    assert "The access token is invalid" in target.last_error
    assert shop.post(post_id).status == "failed"
    with tenant_context(shop.agency_id):
        channel = db.session.scalar(select(Channel).where(Channel.id == toots))
        assert channel.status == "needs_reconnect"
        assert channel.settings["instance_url"] == mastodon.url  # settings kept
        db.session.rollback()
    assert len(mastodon.calls("POST", "/api/v1/statuses")) == 1  # no retry


def test_a_permanent_4xx_fails_at_once_with_the_networks_message(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    mastodon.fail("POST", "/api/v1/statuses", 422, {"error": "Validation failed: Text too long"})
    post_id = shop.approved_post([toots])
    assert run_publish(shop, post_id) == ["failed"]
    assert shop.targets(post_id)[toots].last_error == "Validation failed: Text too long"
    assert run_publish(shop, post_id) == ["skipped"]
    assert len(mastodon.calls("POST", "/api/v1/statuses")) == 1


def test_one_channel_failing_leaves_the_post_partially_published_and_mails_the_agency(
    app, mastodon, bluesky
):
    shop = Shop()
    toots, sky = shop.mastodon(mastodon), shop.bluesky(bluesky)
    mastodon.fail("POST", "/api/v1/statuses", 403, {"error": "This action is not allowed"})
    post_id = shop.approved_post([toots, sky])
    assert sorted(run_publish(shop, post_id)) == ["failed", "published"]
    assert shop.post(post_id).status == "partially_published"


def test_bluesky_session_is_reused_and_refreshed_not_logged_in_per_job(app, bluesky):
    shop = Shop()
    sky = shop.bluesky(bluesky)
    run_publish(shop, shop.approved_post([sky], "one"))
    run_publish(shop, shop.approved_post([sky], "two"))
    assert len(bluesky.calls("POST", "/xrpc/com.atproto.server.createSession")) == 1
    bluesky.expire_access_tokens()
    run_publish(shop, shop.approved_post([sky], "three"))
    assert len(bluesky.calls("POST", "/xrpc/com.atproto.server.createSession")) == 1
    assert len(bluesky.calls("POST", "/xrpc/com.atproto.server.refreshSession")) == 1
    assert len(bluesky.posts()) == 3


def test_a_redis_flush_after_approval_loses_nothing_the_sweeper_enqueues_it_once(
    app, mastodon, redis_url
):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots])
    Redis.from_url(redis_url).flushdb()
    counts = service.sweep()
    assert counts["publish"] == 1
    assert shop.targets(post_id)[toots].status == "published"
    service.sweep()
    assert len(mastodon.statuses) == 1


def test_a_scheduled_job_the_scheduler_missed_is_enqueued_by_the_sweep_and_published_once(
    app, mastodon, redis_url
):
    # No scheduler runs here, as when the worker holding RQ's scheduler lock died: the lock
    # lasts 61 s after it, and only then can another worker's maintenance pass take over.
    from rq.registry import ScheduledJobRegistry

    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Missed by the scheduler")
    target_id = shop.targets(post_id)[toots].id
    job_id = service.publish_job_id(target_id, 1)
    registry = ScheduledJobRegistry("publish", connection=Redis.from_url(redis_url))
    # Just due: the scheduler is about to move it, the sweep leaves it alone.
    service.enqueue_publish(shop.agency_id, target_id, 1, utcnow(), scheduled=True)
    assert service.sweep()["publish"] == 0
    assert registry.get_job_ids() == [job_id]
    assert shop.targets(post_id)[toots].status == "scheduled"
    # Past the grace: the sweep takes it from the registry and enqueues it (run in-process).
    overdue = utcnow() - timedelta(seconds=service.SCHEDULER_GRACE_SECONDS + 2)
    service.enqueue_publish(shop.agency_id, target_id, 1, overdue, scheduled=True)
    assert service.sweep()["publish"] == 1
    assert registry.get_job_ids() == []  # a scheduler taking over later has nothing to move
    assert shop.targets(post_id)[toots].status == "published"
    assert service.sweep()["publish"] == 0
    assert [s["content"] for s in mastodon.statuses] == ["<p>Missed by the scheduler</p>"]
    assert _usage_count(shop) == 1


def test_a_scheduled_job_is_missed_only_past_the_grace(app, mastodon, redis_url):
    """The boundary: a job at most ``SCHEDULER_GRACE_SECONDS`` past its time is still the
    scheduler's to move (sweeping it would race the scheduler); a moment later it is not."""
    from rq.job import Job

    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "On the boundary")
    target_id = shop.targets(post_id)[toots].id
    at = (utcnow() + timedelta(minutes=5)).replace(microsecond=0)  # the registry keeps seconds
    service.enqueue_publish(shop.agency_id, target_id, 1, at, scheduled=True)
    job = Job.fetch(service.publish_job_id(target_id, 1), connection=Redis.from_url(redis_url))
    grace = timedelta(seconds=service.SCHEDULER_GRACE_SECONDS)

    assert not service.missed_by_scheduler(job, at - timedelta(minutes=1))
    assert not service.missed_by_scheduler(job, at + grace)
    assert service.missed_by_scheduler(job, at + grace + timedelta(milliseconds=1))
    assert service.job_is_live(job.id, None, at + grace)
    assert not service.job_is_live(job.id, None, at + grace + timedelta(seconds=1))


def test_a_job_marked_scheduled_that_no_registry_holds_is_not_live(app, mastodon, redis_url):
    from rq.registry import ScheduledJobRegistry

    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots], "Dropped from the registry")
    target_id = shop.targets(post_id)[toots].id
    job_id = service.publish_job_id(target_id, 1)
    redis = Redis.from_url(redis_url)
    assert service.job_is_live(job_id, None)  # due in 2 h (the approval's time)
    ScheduledJobRegistry("publish", connection=redis).remove(job_id)
    assert not service.job_is_live(job_id, None)  # no scheduler will ever move it
    assert service.sweep()["publish"] == 1
    assert shop.targets(post_id)[toots].status == "published"
    assert len(mastodon.statuses) == 1


def test_an_attempt_that_died_mid_call_is_looked_up_before_sending_again(app, bluesky):
    from agency.publishing import engine
    from agency.publishing.jobs import _attempt  # noqa: F401 - the job's own path below

    shop = Shop()
    sky = shop.bluesky(bluesky)
    post_id = shop.approved_post([sky])
    target = shop.targets(post_id)[sky]
    bluesky.drop_after_commit("POST", "/xrpc/com.atproto.repo.createRecord")
    bluesky.fail("GET", "/xrpc/com.atproto.repo.getRecord", 503, {"error": "Unavailable"})
    # First attempt: sent, dropped, lookup failed -> retry scheduled, the record exists.
    assert run_publish(shop, post_id) == ["retry"]
    assert len(bluesky.posts()) == 1
    with tenant_context(shop.agency_id):
        state = engine._state(target.id)
        state.next_attempt_at = None
        db.session.commit()
    assert run_publish(shop, post_id) == ["published"]
    assert len(bluesky.posts()) == 1


def test_while_one_attempt_holds_the_lease_no_other_attempt_can_claim_the_target(app, bluesky):
    """Two jobs for one target at once (a sweeper that took a slow job for dead, a duplicate
    enqueue): the second finds the lease held and does nothing; after the lease, it looks up."""
    from agency.publishing import engine

    shop = Shop()
    sky = shop.bluesky(bluesky)
    post_id = shop.approved_post([sky])
    target = shop.targets(post_id)[sky]
    with tenant_context(shop.agency_id):
        first = engine.claim(target.id, 1)
        second = engine.claim(target.id, 1)
    assert first is not None and second is None
    assert shop.targets(post_id)[sky].attempts == 1
    with tenant_context(shop.agency_id):
        state = engine._state(target.id)
        state.claimed_until = datetime.now(UTC) - timedelta(seconds=1)  # the lease ran out
        db.session.commit()
        after = engine.claim(target.id, 1)
    assert after is not None and after.reconcile_first
    assert after.idempotency_key == first.idempotency_key


def test_the_ticker_sweeps_once_per_slot_however_many_workers_tick(app, mastodon, redis_url):
    from agency.publishing import ticker

    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots])
    Redis.from_url(redis_url).flushdb()  # only the sweep may publish it (no scheduled job)
    now = time.time()
    assert ticker.tick(60, now) is True  # this worker won the slot: the sweep ran (in-process)
    assert [ticker.tick(60, now) for _ in range(3)] == [False, False, False]
    assert shop.targets(post_id)[toots].status == "published"
    assert len(mastodon.statuses) == 1


def test_the_ticker_enqueues_the_channel_health_check_once_per_interval(app, redis_url):
    from agency.channels.jobs import HEALTH_INTERVAL_SECONDS
    from agency.publishing import ticker

    now = 1_000 * HEALTH_INTERVAL_SECONDS + 5.0
    assert ticker.tick_health(now) is True  # the first worker of the interval enqueues it
    assert [ticker.tick_health(now + 60) for _ in range(2)] == [False, False]
    assert ticker.tick_health(now + HEALTH_INTERVAL_SECONDS) is True  # the next interval


def test_a_job_started_within_a_second_of_its_time_waits_and_publishes_instead_of_skipping(
    app, mastodon
):
    # RQ stores a scheduled job's time in whole seconds: a post due at 12:00:00.9 is moved to
    # the queue at 12:00:00.0. Skipping it would leave the post to the next sweep (a minute).
    shop = Shop()
    toots = shop.mastodon(mastodon)
    soon = shop.approved_post([toots], "Due in 0.9 s", due_in=0.9)
    due = shop.post(soon).scheduled_at.timestamp()
    assert run_publish(shop, soon) == ["published"]
    assert mastodon.calls("POST", "/api/v1/statuses")[0].at >= due - 0.5  # not early
    later = shop.approved_post([toots], "Due in 5 s", due_in=5)
    started = time.monotonic()
    assert run_publish(shop, later) == ["skipped"]  # far too early: no waiting in a worker
    assert time.monotonic() - started < 1.0
    assert len(mastodon.statuses) == 1


def test_the_claim_commits_what_each_connector_needs_before_its_first_call(
    app, mastodon, bluesky, monkeypatch
):
    """Bluesky's record key is committed by the claim itself (the commit before any call):
    the attempt creates the record under it and opens no checkpoint transaction. Mastodon's
    send time is not (a claim's time is not the call's): the connector checkpoints it right
    before the status POST."""
    from agency.publishing import engine, jobs

    shop = Shop()
    toots, sky = shop.mastodon(mastodon), shop.bluesky(bluesky)
    post_id = shop.approved_post([toots, sky])
    targets = shop.targets(post_id)
    with tenant_context(shop.agency_id):
        claims = {
            channel: engine.claim(target.id, 1, None, jobs._first_checkpoints)
            for channel, target in targets.items()
        }
    db.session.remove()  # what was committed, read afresh
    with tenant_context(shop.agency_id):
        stored = {t.id: dict(engine._state(t.id).checkpoints) for t in targets.values()}
        db.session.rollback()
    assert stored[targets[toots].id] == {}
    assert set(stored[targets[sky].id]) == {"rkey"}
    assert claims[sky].checkpoints == stored[targets[sky].id]

    checkpoints: list[str] = []
    real = engine.checkpoint
    monkeypatch.setattr(
        engine, "checkpoint", lambda claim, k, v: (checkpoints.append(k), real(claim, k, v))
    )
    with tenant_context(shop.agency_id):
        assert [jobs._attempt(claims[c]) for c in (toots, sky)] == ["published", "published"]
    assert checkpoints == ["sent_at"]  # Mastodon's, before its POST; none for Bluesky
    [record] = bluesky.posts()
    assert record["uri"].endswith("/" + stored[targets[sky].id]["rkey"])
    assert len(mastodon.statuses) == 1


def test_an_attempt_whose_state_a_newer_text_took_sends_nothing(app, mastodon):
    """Between this attempt's claim and its checkpoint, a newer revision's attempt took the
    target's state: the checkpoint finds it and the old text is never sent."""
    from agency.publishing import engine, jobs

    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots])
    target = shop.targets(post_id)[toots]
    with tenant_context(shop.agency_id):
        ours = engine.claim(target.id, 1, None, jobs._first_checkpoints)
        state = engine._state(target.id)
        state.revision, state.idempotency_key = 2, "key-of-the-newer-text"
        db.session.commit()
        assert jobs._attempt(ours) == "skipped"  # Mastodon checkpoints before its POST
    assert mastodon.statuses == []
    assert shop.targets(post_id)[toots].status == "publishing"  # the newer attempt's to settle
