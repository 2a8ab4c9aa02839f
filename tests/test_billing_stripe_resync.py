"""The ticker's Stripe slot: once per interval across workers, a job re-enqueues every
agency's invoices still pending for Stripe (billing.stripe_sync.enqueue_pending)."""

from __future__ import annotations

import uuid

from agency.db import db
from billing import jobs, stripe_sync
from tenants.context import tenant_context
from tenants.models import Role
from tenants.permissions import Access
from tests.factories import make_agency, make_client, owner_of
from tests.fakes.stripe import API_KEY, WEBHOOK_SECRET


def test_stripe_slot_is_taken_once_per_interval_and_enqueues_the_resync(app):
    from agency.jobs import queue
    from agency.publishing import ticker

    interval = jobs.STRIPE_SYNC_INTERVAL_SECONDS
    now = (10_000 + uuid.uuid4().int % 10_000) * interval + 5.0  # a slot no other test used
    slot = int(now // interval)

    assert ticker.tick_stripe(now) is True  # the first worker of the interval enqueues it
    assert [ticker.tick_stripe(now + 60) for _ in range(2)] == [False, False]
    assert ticker.tick_stripe(now + interval) is True  # the next interval
    for each in (slot, slot + 1):
        job = queue("billing").fetch_job(f"stripe-sync-all-{each}")
        assert job is not None and job.func_name == "billing.jobs.sync_every_agency"


def test_sync_every_agency_requeues_only_pending_invoices_in_their_agency(app, monkeypatch):
    pushed: list[tuple[uuid.UUID, uuid.UUID]] = []
    monkeypatch.setattr(stripe_sync, "enqueue_push", lambda a, i: pushed.append((a, i)))
    agency, other = make_agency(), make_agency()
    stripe_sync.connect(Access(owner_of(agency), agency, Role.OWNER), API_KEY, WEBHOOK_SECRET)
    client = make_client(agency)
    pending, synced = uuid.uuid4(), uuid.uuid4()
    with tenant_context(agency.id):
        stripe_sync.request_sync(pending, client.id)
        stripe_sync.request_sync(synced, client.id).sync_status = "synced"
        db.session.commit()

    jobs.sync_every_agency(None)

    assert (agency.id, pending) in pushed
    assert all(invoice != synced for _, invoice in pushed)
    assert all(owner != other.id for owner, _ in pushed)
