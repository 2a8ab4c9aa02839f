"""The invoice run on the ``billing`` queue, with its progress in the job's meta."""

from __future__ import annotations

import uuid

from flask import current_app
from rq import get_current_job

from agency.jobs import job, queue


def _progress(done: int, total: int) -> None:
    current = get_current_job()
    if current is None:
        return
    current.meta.update({"done": done, "total": total})
    current.save_meta()


@job
def generate_invoices(agency_id: uuid.UUID, period: str, client_id: str | None = None) -> list[str]:
    """Draft invoices of ``period`` for every billable client (or one); safe to run twice."""
    from billing.invoices import run_period

    made = run_period(period, uuid.UUID(client_id) if client_id else None, progress=_progress)
    current = get_current_job()
    if current is not None:
        current.meta["invoice_ids"] = [str(i) for i in made]
        current.save_meta()
    return [str(i) for i in made]


def enqueue_run(agency_id: uuid.UUID, period: str, client_id: uuid.UUID | None) -> str:
    """Start a run; returns its job id (a UUID)."""
    run_id = str(uuid.uuid4())
    queue("billing").enqueue(
        generate_invoices,
        str(agency_id),
        period,
        str(client_id) if client_id else None,
        job_id=run_id,
        meta={"agency_id": str(agency_id), "period": period, "done": 0, "total": 0},
        result_ttl=86400,
    )
    current_app.logger.info("invoice run %s for %s queued", run_id, period)
    return run_id


def run_status(agency_id: uuid.UUID, run_id: str) -> dict | None:
    """The run's progress, or None if there is no such run of this agency."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from agency.jobs import redis_client

    try:
        found = Job.fetch(run_id, connection=redis_client())
    except (NoSuchJobError, ValueError):
        return None
    meta = found.get_meta(refresh=True) if hasattr(found, "get_meta") else found.meta
    if meta.get("agency_id") != str(agency_id):
        return None  # another agency's run: as absent
    status = found.get_status(refresh=False)
    total = int(meta.get("total") or 0)
    done = int(meta.get("done") or 0)
    finished = str(status) in ("finished", "JobStatus.FINISHED")
    return {
        "id": run_id,
        "period": meta.get("period"),
        "status": str(getattr(status, "value", status)),
        "done": done,
        "total": total,
        "percent": 100 if finished else (done * 100 // total if total else 0),
        "invoice_ids": meta.get("invoice_ids", []),
    }


STRIPE_SYNC_INTERVAL_SECONDS = 10 * 60  # the ticker runs sync_every_agency this often


@job
def sync_every_agency(agency_id: uuid.UUID | None = None) -> int:
    """Re-enqueue every agency's invoices still pending for Stripe (a lost enqueue, an outage
    longer than the job's retries); returns how many pushes were queued."""
    from sqlalchemy import select

    from agency.db import db
    from billing import stripe_sync
    from tenants.context import tenant_context
    from tenants.models import Agency

    queued = 0
    for each in list(db.session.scalars(select(Agency.id).order_by(Agency.id))):
        with tenant_context(each):
            queued += stripe_sync.enqueue_pending(each)
    return queued
