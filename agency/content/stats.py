"""Approval turnaround per client: how long clients take to decide (median, last 90 days)."""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, select

from agency.content.models import Approval, Post, Step, aware
from agency.db import db, utcnow
from tenants.models import ClientCompany

WINDOW = timedelta(days=90)
MAX_ROWS = 20_000


@dataclass(frozen=True)
class Turnaround:
    client_id: uuid.UUID
    client_name: str
    median_hours: float
    decisions: int


def turnaround_by_client(client_ids: set[uuid.UUID] | None = None) -> list[Turnaround]:
    """Median hours from submission to each client decision, per client; one query."""
    since = utcnow() - WINDOW
    stmt = (
        select(Approval.created_at, Post.submitted_at, ClientCompany.id, ClientCompany.name)
        .join(Post, and_(Post.agency_id == Approval.agency_id, Post.id == Approval.post_id))
        .join(
            ClientCompany,
            and_(ClientCompany.agency_id == Post.agency_id, ClientCompany.id == Post.client_id),
        )
        .where(Approval.step == Step.CLIENT.value, Approval.created_at >= since)
        .where(Post.submitted_at.is_not(None))
        .limit(MAX_ROWS)
    )
    if client_ids is not None:
        stmt = stmt.where(Post.client_id.in_(client_ids))
    hours: dict[tuple[uuid.UUID, str], list[float]] = {}
    for decided, submitted, cid, name in db.session.execute(stmt):
        delta = (aware(decided) - aware(submitted)).total_seconds() / 3600
        hours.setdefault((cid, name), []).append(max(delta, 0.0))
    return sorted(
        (
            Turnaround(cid, name, round(statistics.median(values), 1), len(values))
            for (cid, name), values in hours.items()
        ),
        key=lambda t: t.client_name,
    )


def bar_chart_rows(rows: list[Turnaround], width: int = 240) -> list[dict]:
    """Bar geometry for the server-rendered SVG (no JavaScript charting)."""
    top = max((r.median_hours for r in rows), default=0) or 1
    return [
        {"row": r, "y": i * 22, "width": max(2, int(width * r.median_hours / top))}
        for i, r in enumerate(rows)
    ]
