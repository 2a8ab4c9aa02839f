"""billing.usage.record: one billable row per published target, whatever the retries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from agency.db import db
from billing import usage
from tenants.context import tenant_context
from tests.factories import make_agency, make_client


def _count(agency) -> int:  # noqa: ANN001
    with tenant_context(agency.id):
        return db.session.scalar(select(func.count()).select_from(usage.UsageRecord))


def test_recording_the_same_target_twice_bills_it_once(app):
    agency = make_agency()
    client = make_client(agency)
    target = uuid.uuid4()
    moment = datetime(2026, 11, 3, 10, tzinfo=UTC)
    with tenant_context(agency.id):
        first = usage.record(
            db.session, client_id=client.id, target_id=target, kind="post", occurred_at=moment
        )
        second = usage.record(
            db.session, client_id=client.id, target_id=target, kind="post", occurred_at=moment
        )
        db.session.commit()
    assert (first, second) == (True, False)
    assert _count(agency) == 1


def test_usage_falls_in_the_clients_own_month(app):
    agency = make_agency()
    client = make_client(agency, timezone="Europe/Rome")
    # 23:30 UTC on 30 November is already 1 December in Rome.
    moment = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    with tenant_context(agency.id):
        usage.record(
            db.session,
            client_id=client.id,
            target_id=uuid.uuid4(),
            kind="reply",
            occurred_at=moment,
        )
        db.session.commit()
        rows = usage.usage_for(db.session, client.id, "2026-12")
    assert [(row.kind, row.period) for row in rows] == [("reply", "2026-12")]


def test_another_agencys_client_cannot_be_billed(app):
    mine, theirs = make_agency(), make_agency()
    their_client = make_client(theirs)
    with tenant_context(mine.id), pytest.raises(LookupError):
        usage.record(
            db.session,
            client_id=their_client.id,
            target_id=uuid.uuid4(),
            kind="post",
            occurred_at=datetime.now(UTC),
        )
    assert _count(theirs) == 0


def test_naive_time_and_unknown_kind_are_refused(app):
    agency = make_agency()
    client = make_client(agency)
    with tenant_context(agency.id):
        with pytest.raises(ValueError):
            usage.record(
                db.session,
                client_id=client.id,
                target_id=uuid.uuid4(),
                kind="post",
                occurred_at=datetime(2026, 1, 1),
            )
        with pytest.raises(ValueError):
            usage.record(
                db.session,
                client_id=client.id,
                target_id=uuid.uuid4(),
                kind="story",
                occurred_at=datetime.now(UTC),
            )
    assert _count(agency) == 0
