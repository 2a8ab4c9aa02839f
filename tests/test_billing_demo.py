"""First start: the demo's finance user runs last month's invoices, finalizes and exports."""

from __future__ import annotations

import re

from sqlalchemy import select

from agency.db import db
from agency.demo import seed_demo
from billing.demo import last_month
from billing.models import Invoice
from tenants import service
from tenants.context import tenant_context
from tests.helpers import csrf_from
from tests.world import sign_in


def test_demo_finance_runs_finalizes_and_downloads_last_months_invoices(client):
    agency, _logins = seed_demo()
    seed_demo()  # safe twice: nothing doubled
    finance = service.find_user_by_email("finance@aurora.example")
    sign_in(client, finance)
    home = client.get(f"/a/{agency.slug}/billing/")
    assert home.status_code == 200
    from datetime import UTC, datetime

    _start, period = last_month(datetime.now(UTC).date())
    started = client.post(
        f"/a/{agency.slug}/billing/runs",
        data={
            "csrf_token": csrf_from(home.get_data(as_text=True)),
            "period": period,
            "client_id": "",
        },
    )
    assert started.status_code == 302
    progress = client.get(started.headers["Location"])
    assert progress.status_code == 200 and "100%" in progress.get_data(as_text=True)
    status = client.get(started.headers["Location"] + "/status").get_json()
    assert status["status"] == "finished" and len(status["invoice_ids"]) == 2

    with tenant_context(agency.id):
        drafts = db.session.scalars(select(Invoice).where(Invoice.period == period)).all()
    assert {d.currency for d in drafts} == {"EUR", "GBP"}
    assert all(d.total > d.subtotal > 0 for d in drafts)
    for draft in drafts:
        page = client.get(f"/a/{agency.slug}/billing/invoices/{draft.id}")
        assert "Extra posts" in page.get_data(as_text=True) or "Post extra" in page.get_data(
            as_text=True
        )
        done = client.post(
            f"/a/{agency.slug}/billing/invoices/{draft.id}/finalize",
            data={"csrf_token": csrf_from(page.get_data(as_text=True))},
        )
        assert done.status_code == 302
        assert "cannot be finalized" not in client.get(done.headers["Location"]).get_data(
            as_text=True
        )
    with tenant_context(agency.id):
        numbers = sorted(
            db.session.scalars(select(Invoice.number).where(Invoice.period == period)).all()
        )
    year = numbers[0][:4]
    assert numbers == [f"{year}/0001", f"{year}/0002"]
    (italian,) = [d for d in drafts if d.currency == "EUR"]  # Trattoria: FatturaPA, end to end
    xml = client.get(f"/a/{agency.slug}/billing/invoices/{italian.id}/fatturapa")
    assert xml.status_code == 200 and xml.mimetype == "application/xml", xml.headers
    assert b"<CAP>20124</CAP>" in xml.data and b"<CAP>20121</CAP>" in xml.data
    assert b"<Provincia>MI</Provincia>" in xml.data and b"IT60X0542811101000000123456" in xml.data
    pdf = client.get(f"/a/{agency.slug}/billing/invoices/{drafts[0].id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    listing = client.get(f"/a/{agency.slug}/billing/?period={period}").get_data(as_text=True)
    assert len(re.findall(rf"{year}/000[12]", listing)) == 2
