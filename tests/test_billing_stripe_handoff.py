"""Finalizing hands the invoice to the Stripe job by its dotted path, only when connected."""

from __future__ import annotations

import importlib.machinery
import sys
import types
import uuid

import pytest

from agency.db import db
from billing import invoices, lifecycle
from billing.models import Invoice
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.billing_helpers import make_rate_card
from tests.factories import make_agency, make_client, make_member

pushed: list[tuple[str, str]] = []


def _stripe_module(connected: bool) -> types.ModuleType:
    """A stand-in for billingdocs' ``billing.stripe_sync`` (its two entry points only)."""
    module = types.ModuleType("billing.stripe_sync")
    module.__spec__ = importlib.machinery.ModuleSpec("billing.stripe_sync", None)
    module.is_connected = lambda agency: connected
    module.push_invoice = lambda agency_id, invoice_id: pushed.append((agency_id, invoice_id))
    return module


@pytest.mark.parametrize("connected", [True, False])
def test_finalize_enqueues_the_stripe_job_only_for_a_connected_agency(app, monkeypatch, connected):
    monkeypatch.setitem(sys.modules, "billing.stripe_sync", _stripe_module(connected))
    pushed.clear()
    agency = make_agency()
    client = make_client(agency)
    finance = make_member(agency, Role.FINANCE)
    make_rate_card(agency, client)
    with tenant_context(agency.id):
        (invoice_id,) = invoices.run_period("2026-10")
        lifecycle.finalize(load_access(finance, agency), invoice_id)
        stored = db.session.get(Invoice, invoice_id)
    if connected:
        assert pushed == [(str(agency.id), str(invoice_id))]
        assert (stored.payment_method, stored.stripe_status) == ("stripe", "pending")
    else:
        assert pushed == []
        assert (stored.payment_method, stored.stripe_status) == ("bank_transfer", None)
    assert isinstance(invoice_id, uuid.UUID)
