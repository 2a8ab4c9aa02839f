"""Each worker's ticker: every ``sweep_interval_seconds`` one worker (whichever wins the slot
in Redis) enqueues the sweeper job. Running in every worker, it survives any one worker's
death and a Redis flush; the slot key keeps N workers from sweeping N times a minute."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

log = logging.getLogger(__name__)


def tick(interval: int, now: float | None = None) -> bool:
    """Enqueue the sweeper for the current slot unless another worker already did."""
    from agency.jobs import queue, redis_client
    from agency.publishing.jobs import sweep_due

    slot = int((now or time.time()) // max(1, interval))
    if not redis_client().set(f"regia:sweep-slot:{slot}", "1", nx=True, ex=max(2, interval * 2)):
        return False
    queue("default").enqueue(sweep_due, None, job_id=f"sweep-{slot}", job_timeout=300)
    return True


def tick_health(now: float | None = None) -> bool:
    """Enqueue the channels' health check once per HEALTH_INTERVAL_SECONDS across all workers."""
    from agency.channels.jobs import HEALTH_INTERVAL_SECONDS, check_every_agency
    from agency.jobs import queue, redis_client

    slot = int((now or time.time()) // HEALTH_INTERVAL_SECONDS)
    key = f"regia:health-slot:{slot}"
    if not redis_client().set(key, "1", nx=True, ex=HEALTH_INTERVAL_SECONDS * 2):
        return False
    queue("default").enqueue(check_every_agency, None, job_id=f"channel-health-all-{slot}")
    return True


def tick_stripe(now: float | None = None) -> bool:
    """Enqueue the Stripe re-sync of pending invoices once per interval across all workers."""
    from agency.jobs import queue, redis_client
    from billing.jobs import STRIPE_SYNC_INTERVAL_SECONDS, sync_every_agency

    slot = int((now or time.time()) // STRIPE_SYNC_INTERVAL_SECONDS)
    key = f"regia:stripe-sync-slot:{slot}"
    if not redis_client().set(key, "1", nx=True, ex=STRIPE_SYNC_INTERVAL_SECONDS * 2):
        return False
    queue("billing").enqueue(sync_every_agency, None, job_id=f"stripe-sync-all-{slot}")
    return True


def start(app: Flask) -> threading.Thread:
    """A daemon thread in the worker's main process; it only talks to Redis (the sweep itself
    runs as a job, in a work horse, like every database access of a worker)."""
    interval = app.config["REGIA"].sweep_interval_seconds

    def run() -> None:
        while True:
            try:
                with app.app_context():
                    tick(interval)
                    tick_health()
                    tick_stripe()
            except Exception:  # Redis away: try again next slot
                log.exception("publishing ticker")
            time.sleep(max(0.2, interval / 4))

    thread = threading.Thread(target=run, name="regia-ticker", daemon=True)
    thread.start()
    return thread
