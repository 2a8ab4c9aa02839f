"""Gapless numbers under concurrency, per agency; finalized invoices frozen in the database."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from agency.db import db
from billing import invoices, lifecycle
from billing.models import Invoice, InvoiceLine
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.billing_helpers import make_rate_card
from tests.factories import make_agency, make_client, make_member
from tests.helpers import run_together

PERIOD = "2026-10"


def _drafts(agency, count: int) -> list[uuid.UUID]:  # noqa: ANN001
    clients = [make_client(agency, f"Client {n}") for n in range(count)]
    for client in clients:
        make_rate_card(agency, client)
    with tenant_context(agency.id):
        return invoices.run_period(PERIOD)


def _finalize_all(app, agency, user, ids: list[uuid.UUID]) -> list[Exception]:  # noqa: ANN001
    """Each draft finalized in its own thread, transaction and connection, all released at
    once (the pool holds 15 connections: the rest queue for one, still racing)."""
    with tenant_context(agency.id):
        access = load_access(user, agency)  # read-only from here on: shared by the threads
    db.session.remove()
    works = [lambda i=i: lifecycle.finalize(access, i) for i in ids]
    return run_together(app, agency.id, works, timeout=10)


def _numbers(agency) -> list[int]:  # noqa: ANN001
    with tenant_context(agency.id):
        return sorted(
            db.session.scalars(select(Invoice.sequence).where(Invoice.sequence.is_not(None)))
        )


@pytest.mark.postgresql
def test_twenty_concurrent_finalizations_number_one_to_twenty(app):
    agency = make_agency()
    finance = make_member(agency, Role.FINANCE)
    ids = _drafts(agency, 20)
    assert len(ids) == 20
    errors = _finalize_all(app, agency, finance, ids)
    assert errors == []
    assert _numbers(agency) == list(range(1, 21))


@pytest.mark.postgresql
def test_two_agencies_number_independently_at_the_same_time(app):
    first, second = make_agency(), make_agency()
    people = {a.id: make_member(a, Role.FINANCE) for a in (first, second)}
    work = {a.id: _drafts(a, 5) for a in (first, second)}
    errors: list[Exception] = []
    threads = [
        threading.Thread(
            target=lambda a=a: errors.extend(_finalize_all(app, a, people[a.id], work[a.id]))
        )
        for a in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert errors == []
    assert _numbers(first) == _numbers(second) == [1, 2, 3, 4, 5]


def test_a_failed_finalization_gives_its_number_back(app):
    agency = make_agency()
    finance = make_member(agency, Role.FINANCE)
    first, second = _drafts(agency, 2)
    with tenant_context(agency.id):
        access = load_access(finance, agency)
        lifecycle.finalize(access, first)
        empty = db.session.get(Invoice, second)
        db.session.execute(
            text("DELETE FROM invoice_lines WHERE invoice_id = :i"),
            {"i": empty.id.hex if db.engine.dialect.name == "sqlite" else empty.id},
        )
        db.session.commit()
        with pytest.raises(lifecycle.IllegalTransition):
            lifecycle.finalize(access, second)
        db.session.rollback()
        (third,) = invoices.run_period(PERIOD, client_id=empty.client_id)
        assert lifecycle.finalize(access, third).sequence == 2


@pytest.mark.postgresql
def test_the_database_refuses_to_change_a_finalized_invoice(app):
    agency = make_agency()
    finance = make_member(agency, Role.FINANCE)
    (invoice_id,) = _drafts(agency, 1)
    with tenant_context(agency.id):
        lifecycle.finalize(load_access(finance, agency), invoice_id)
        for statement in (
            "UPDATE invoice_lines SET amount = amount + 1 WHERE invoice_id = :i",
            "UPDATE invoices SET total = total + 1 WHERE id = :i",
            "UPDATE invoices SET number = '1999/0001' WHERE id = :i",
            "DELETE FROM invoice_lines WHERE invoice_id = :i",
            "DELETE FROM invoices WHERE id = :i",
        ):
            with pytest.raises(DBAPIError, match="frozen|never deleted"):
                db.session.execute(text(statement), {"i": invoice_id})
            db.session.rollback()
        # Payment state still moves.
        db.session.execute(
            text("UPDATE invoices SET status = 'paid' WHERE id = :i"), {"i": invoice_id}
        )
        db.session.commit()
        lines = db.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id))
        assert len(list(lines)) == 1
