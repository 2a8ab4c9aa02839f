"""Channel jobs: the periodic health check (scheduled by the worker, ``default`` queue)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from agency.channels import health
from agency.db import db
from agency.jobs import enqueue, job
from tenants.models import Agency

HEALTH_INTERVAL_SECONDS = 6 * 3600  # the worker's scheduler runs check_every_agency this often


@job
def check_channels(agency_id: uuid.UUID | None) -> dict[str, int]:
    """Verify every connected channel of one agency; how many ended in each state."""
    if agency_id is None:
        raise ValueError("check_channels needs an agency")
    report = health.check_all(agency_id)
    return {name: len(ids) for name, ids in vars(report).items()}


@job
def check_every_agency(agency_id: uuid.UUID | None = None) -> int:
    """Fan out: one ``check_channels`` job per agency (deterministic id: one live per agency)."""
    agency_ids = list(db.session.scalars(select(Agency.id).order_by(Agency.id)))
    for each in agency_ids:
        enqueue(
            "default",
            check_channels,
            str(each),
            job_id=f"channel-health-{each}",
        )
    return len(agency_ids)
