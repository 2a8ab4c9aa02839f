"""Gapless invoice numbers per agency, per series, per year, under a row lock.

One counter row per ``(agency, series, year)``. Numbering inserts it if missing (doing
nothing on conflict), then reads it ``FOR UPDATE``: concurrent finalizations in one agency
queue on that row until the holder commits or rolls back, so a number is used exactly once
and a rolled-back finalization gives its number back. SQLite has no row locks: the insert
takes the database's write lock, which serialises writers just the same.

Series: invoices ``2026/0001``; credit notes their own sequence, ``NC-2026/0001``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agency.db import db
from billing.models import InvoiceCounter, InvoiceKind
from tenants.context import current_agency_id

SERIES = {InvoiceKind.INVOICE.value: "", InvoiceKind.CREDIT_NOTE.value: "NC"}


def format_number(series: str, year: int, sequence: int) -> str:
    prefix = f"{series}-" if series else ""
    return f"{prefix}{year}/{sequence:04d}"


def next_number(kind: str, year: int) -> tuple[int, str]:
    """Take the next number of ``kind``'s series in ``year``; the caller's commit keeps it."""
    series = SERIES[kind]
    session = db.session
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(InvoiceCounter)
        .values(id=uuid.uuid4(), agency_id=current_agency_id(), series=series, year=year, last=0)
        .on_conflict_do_nothing(index_elements=["agency_id", "series", "year"])
    )
    counter = session.execute(
        select(InvoiceCounter.id, InvoiceCounter.last)
        .where(InvoiceCounter.series == series, InvoiceCounter.year == year)
        .with_for_update()
    ).one()
    sequence = counter.last + 1
    session.execute(
        update(InvoiceCounter).where(InvoiceCounter.id == counter.id).values(last=sequence)
    )
    return sequence, format_number(series, year, sequence)
