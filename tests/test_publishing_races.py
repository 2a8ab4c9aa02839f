# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""The engine's steps against another worker's transaction on the same target, on PostgreSQL.

Another worker holds the target's row lock (as its claim or outcome does) and has changed the
engine's state row; this worker's claim or outcome waits for the lock (the test sees it
waiting in ``pg_stat_activity``). When the other commits, a ``SELECT … FOR UPDATE`` returns
the newest version of the rows it locked, but the rows of any other table it joined as they
were when it started (READ COMMITTED): the engine must decide on a state row it read after
the lock, never on that stale one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text

from agency.db import db
from agency.publishing import engine
from billing.usage import UsageRecord
from tenants.context import tenant_context
from tests.pg import ground_truth
from tests.publishing_support import (  # noqa: F401 - fixtures
    Shop,
    _publishing_app,
    app,
    bluesky,
    mastodon,
)

pytestmark = pytest.mark.postgresql


def _waiting_for_a_lock(watcher) -> bool:  # noqa: ANN001
    """Some backend of this database waits for a row lock (its own connection's view)."""
    watcher.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
    return bool(
        watcher.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()
    )


def _while_another_worker_holds(
    app,
    shop: Shop,
    target_id: uuid.UUID,
    changes: list[str],
    step: Callable[[], object],
    *,
    lock_target: bool = True,
) -> object:
    """Run ``step`` (in its own thread, app context and session) while another transaction
    holds the target's lock (or only the rows ``changes`` write) and has run ``changes``; that
    one commits once ``step`` is seen waiting for a lock."""
    outcome: dict[str, object] = {}

    def run() -> None:
        with app.app_context(), tenant_context(shop.agency_id):
            try:
                outcome["result"] = step()
            except Exception as exc:  # noqa: BLE001 - the test reports it
                outcome["error"] = exc
            finally:
                db.session.remove()

    with ground_truth(db.engine) as other, ground_truth(db.engine) as watcher:
        if lock_target:
            other.execute(
                text("SELECT id FROM post_targets WHERE id = :t FOR UPDATE"), {"t": target_id}
            )
        for change in changes:
            other.execute(text(change), {"t": target_id})
        ours = threading.Thread(target=run)
        ours.start()
        deadline = time.monotonic() + 10
        while not (waited := _waiting_for_a_lock(watcher)) and time.monotonic() < deadline:
            time.sleep(0.02)
        other.commit()
    ours.join(30)
    assert waited, "our step never waited for the other worker's lock: no race happened"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]


def _claimed(mastodon) -> tuple[Shop, uuid.UUID, uuid.UUID, uuid.UUID, engine.Claim]:  # noqa: ANN001
    """A Mastodon post due now whose one target this worker has claimed (at revision 1)."""
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots])
    target = shop.targets(post_id)[toots]
    with tenant_context(shop.agency_id):
        claim = engine.claim(target.id, 1)
    assert isinstance(claim, engine.Claim)
    return shop, toots, post_id, target.id, claim


def _state(shop: Shop, target_id: uuid.UUID) -> dict:
    with ground_truth(db.engine) as conn:
        row = conn.execute(
            text("SELECT * FROM publish_states WHERE target_id = :t"), {"t": target_id}
        ).mappings()
        return dict(row.one())


def test_a_claim_that_waited_sees_the_new_revision_another_worker_claimed(app, mastodon):
    """The post was re-approved (revision 1; the state row still at revision 0). Another
    worker claims revision 1 first: our claim, which waited for it, must not take the state
    for a stale revision and claim it again with a new key (two posts on the network)."""
    shop = Shop()
    toots = shop.mastodon(mastodon)
    post_id = shop.approved_post([toots])
    target = shop.targets(post_id)[toots]
    with ground_truth(db.engine) as conn:
        conn.execute(
            text(
                "INSERT INTO publish_states (id, agency_id, created_at, updated_at, target_id,"
                " post_id, revision, idempotency_key, checkpoints, in_flight)"
                " VALUES (:id, :a, now(), now(), :t, :p, 0, 'key-of-revision-0', '{}', false)"
            ),
            {"id": uuid.uuid4(), "a": shop.agency_id, "t": target.id, "p": post_id},
        )
        conn.commit()

    result = _while_another_worker_holds(
        app, shop, target.id,
        ["UPDATE publish_states SET revision = 1, idempotency_key = 'key-of-the-other',"
         " in_flight = true, claimed_until = now() + interval '1 hour' WHERE target_id = :t"],
        lambda: engine.claim(target.id, 1),
    )  # fmt: skip

    assert result is None
    state = _state(shop, target.id)
    assert state["idempotency_key"] == "key-of-the-other"
    assert shop.targets(post_id)[toots].attempts == 0


def test_an_outcome_that_waited_does_not_land_on_a_newer_revisions_attempt(app, mastodon):
    """Our attempt at revision 1 comes back while another worker has just claimed a newer
    revision's publication of the same target: ours is superseded; it must not release the
    other's lease, publish the target with the old text's id or bill it."""
    shop, toots, post_id, target_id, ours = _claimed(mastodon)

    result = _while_another_worker_holds(
        app, shop, target_id,
        ["UPDATE publish_states SET revision = 2, idempotency_key = 'key-of-the-other',"
         " in_flight = true, claimed_until = now() + interval '1 hour' WHERE target_id = :t"],
        lambda: engine.record_success(ours, "111", "https://toots.example/111"),
    )  # fmt: skip

    assert result is None
    state = _state(shop, target_id)
    assert state["revision"] == 2 and state["in_flight"] and state["claimed_until"] is not None
    after = shop.targets(post_id)[toots]
    assert after.status == "publishing" and after.external_id is None
    with tenant_context(shop.agency_id):
        assert db.session.scalar(select(func.count()).select_from(UsageRecord)) == 0
        db.session.rollback()


def test_a_claim_that_waited_for_a_retry_keeps_its_backoff(app, mastodon):
    """Another worker's attempt ends in a retry (target back to scheduled, lease released,
    not before an hour): our claim, which waited for it, must see the backoff and wait too,
    not send at once (a 429's reset time ignored)."""
    shop, toots, post_id, target_id, _first = _claimed(mastodon)

    result = _while_another_worker_holds(
        app, shop, target_id,
        ["UPDATE post_targets SET status = 'scheduled' WHERE id = :t",
         "UPDATE publish_states SET in_flight = false, claimed_until = NULL,"
         " next_attempt_at = now() + interval '1 hour' WHERE target_id = :t"],
        lambda: engine.claim(target_id, 1),
    )  # fmt: skip

    assert isinstance(result, engine.NotDue)
    assert shop.targets(post_id)[toots].attempts == 1


def test_a_claim_keeps_what_an_attempt_checkpointed_while_it_waited(app, bluesky):
    """A checkpoint of an older attempt (its lease ran out, it is still going) is being
    committed while a new attempt claims the target: the claim waits for the state row and
    writes back the checkpoints with it, not the ones it would have read before."""
    from agency.publishing.jobs import _first_checkpoints

    shop = Shop()
    sky = shop.bluesky(bluesky)
    post_id = shop.approved_post([sky])
    target_id = shop.targets(post_id)[sky].id
    with tenant_context(shop.agency_id):
        first = engine.claim(target_id, 1, None, _first_checkpoints)
    assert isinstance(first, engine.Claim) and set(first.checkpoints) == {"rkey"}
    with ground_truth(db.engine) as conn:
        conn.execute(
            text("UPDATE publish_states SET claimed_until = now() - interval '1 second'"
                 " WHERE target_id = :t"), {"t": target_id},
        )  # fmt: skip
        conn.commit()

    result = _while_another_worker_holds(
        app, shop, target_id,
        ["UPDATE publish_states SET checkpoints = CAST(CAST(checkpoints AS jsonb)"
         " || '{\"blob\": \"the-older-attempts-upload\"}' AS json) WHERE target_id = :t"],
        lambda: engine.claim(target_id, 1, None, _first_checkpoints),
        lock_target=False,
    )  # fmt: skip

    assert isinstance(result, engine.Claim) and result.reconcile_first
    stored = _state(shop, target_id)["checkpoints"]
    assert stored == {"rkey": first.checkpoints["rkey"], "blob": "the-older-attempts-upload"}
    assert result.checkpoints == stored  # the first attempt's record key kept
