"""The finance export endpoints: FatturaPA XML (422 naming the bad fiscal field), the CSV
register and lines of a date range (streamed, BOM and delimiter), the ZIP of its PDFs; owner
and finance only."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest

from agency.db import db, utcnow
from tenants.context import tenant_context
from tenants.models import ClientCompany, Role
from tests.billing_helpers import add_usage, italian_fiscal_data, make_rate_card
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer
from tests.world import sign_in

PERIOD = "2026-10"


@pytest.fixture
def books(client):
    agency = make_agency()
    acme = make_client(agency, "Acme", legal_name="Acme S.r.l.", country="IT")
    italian_fiscal_data(agency, acme)
    make_rate_card(agency, acme)
    add_usage(agency, acme, PERIOD, posts=2)
    people = {
        role: make_member(agency, role, client=acme if role.name.startswith("CLIENT") else None)
        for role in (Role.FINANCE, Role.STAFF, Role.CLIENT_MANAGER, Role.CLIENT_VIEWER)
    }
    tokens = {role: token_for(user, agency) for role, user in people.items()}
    finance = bearer(tokens[Role.FINANCE])
    (invoice_id,) = client.post(
        "/api/v1/invoices/generate", json={"period": PERIOD}, headers=finance
    ).get_json()["invoice_ids"]
    assert (
        client.post(f"/api/v1/invoices/{invoice_id}/finalize", headers=finance).status_code == 200
    )
    today = utcnow().date().isoformat()
    return agency, acme, invoice_id, tokens, {"from": today, "to": today}


def test_fatturapa_is_the_xml_of_the_finalized_invoice(client, books):
    _, _, invoice_id, tokens, _ = books
    response = client.get(
        f"/api/v1/invoices/{invoice_id}/fatturapa", headers=bearer(tokens[Role.FINANCE])
    )
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert b"FatturaElettronica" in response.data and b"02849360017" in response.data
    assert '.xml"' in response.headers["Content-Disposition"]


def test_fatturapa_refuses_bad_fiscal_data_naming_the_field(client, books):
    agency, acme, invoice_id, tokens, _ = books
    with tenant_context(agency.id):
        buyer = db.session.get(ClientCompany, acme.id)
        buyer.sdi_code = buyer.pec = None
        db.session.commit()
    response = client.get(
        f"/api/v1/invoices/{invoice_id}/fatturapa", headers=bearer(tokens[Role.FINANCE])
    )
    assert response.status_code == 422
    assert "buyer.sdi_code" in response.get_json()["errors"]["json"]


def test_csv_register_and_lines_are_streamed_with_bom_and_delimiter(client, books):
    _, _, _, tokens, dates = books
    headers = bearer(tokens[Role.FINANCE])
    register = client.get(
        "/api/v1/exports/invoices.csv",
        query_string={**dates, "bom": "true", "delimiter": ";"},
        headers=headers,
    )
    assert register.status_code == 200 and register.is_streamed
    text = register.get_data().decode("utf-8")
    assert text.startswith("\ufeffnumber;kind;status")
    assert f"{utcnow().year}/0001" in text and len(text.strip().splitlines()) == 2
    lines = client.get(
        "/api/v1/exports/invoices.csv", query_string={**dates, "kind": "lines"}, headers=headers
    )
    assert lines.get_data(as_text=True).startswith("number,kind,issue_date")
    assert len(lines.get_data(as_text=True).strip().splitlines()) > 2


@pytest.mark.parametrize(
    ("query", "field"),
    [({"from": "2026-13-01", "to": "2026-12-01"}, "from"), ({"kind": "all"}, "kind")],
)
def test_csv_bad_query_is_422_naming_the_field(client, books, query, field):
    _, _, _, tokens, _ = books
    response = client.get(
        "/api/v1/exports/invoices.csv", query_string=query, headers=bearer(tokens[Role.FINANCE])
    )
    assert response.status_code == 422 and field in str(response.get_json())


def test_zip_holds_one_pdf_per_finalized_invoice_of_the_range(client, books):
    _, _, _, tokens, dates = books
    response = client.get(
        "/api/v1/exports/invoices.zip", query_string=dates, headers=bearer(tokens[Role.FINANCE])
    )
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.namelist() == [f"{utcnow().year}-0001.pdf"]
    assert archive.read(archive.namelist()[0]).startswith(b"%PDF")


@pytest.mark.parametrize("role", [Role.STAFF, Role.CLIENT_MANAGER, Role.CLIENT_VIEWER])
def test_exports_are_refused_to_everyone_but_owner_and_finance(client, books, role):
    _, _, invoice_id, tokens, dates = books
    headers = bearer(tokens[role])
    for url in (
        f"/api/v1/invoices/{invoice_id}/fatturapa",
        "/api/v1/exports/invoices.csv",
        "/api/v1/exports/invoices.zip",
    ):
        assert client.get(url, query_string=dates, headers=headers).status_code in (403, 404)


def _signed_in_exports_page(client, books):  # noqa: ANN001, ANN202
    agency, _acme, _invoice_id, _tokens, _dates = books
    sign_in(client, owner_of(agency))  # owner and finance share the export pages
    return f"/a/{agency.slug}/billing/exports"


@pytest.mark.parametrize("download", ["invoices.csv", "invoices.zip"])
def test_an_empty_range_stays_on_the_page_with_a_message_and_keeps_the_form(
    client, books, download
):
    url = _signed_in_exports_page(client, books)
    query = {"date_from": "2020-01-01", "date_to": "2020-01-31", "kind": "lines"}
    query |= {"delimiter": "semicolon", "bom": "true"}
    response = client.get(f"{url}/{download}", query_string=query)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert 'id="export-empty"' in html and "nothing to download" in html
    assert 'value="2020-01-01"' in html and 'value="2020-01-31"' in html
    assert 'selected value="lines"' in html and 'selected value="semicolon"' in html
    italian = client.get(f"{url}/{download}", query_string=query, headers={"Accept-Language": "it"})
    assert "niente da scaricare" in italian.get_data(as_text=True)


def test_the_export_page_defaults_to_last_month_and_this_month_to_date(client, books):
    url = _signed_in_exports_page(client, books)
    today = utcnow().date()
    first_of_last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    html = client.get(url).get_data(as_text=True)
    assert f'value="{first_of_last_month.isoformat()}"' in html
    assert f'value="{today.isoformat()}"' in html
    # the form as it comes, unchanged: today's invoice is in the CSV
    csv = client.get(
        f"{url}/invoices.csv",
        query_string={"date_from": first_of_last_month.isoformat(), "date_to": today.isoformat()},
    )
    assert csv.mimetype == "text/csv" and f"{today.year}/0001" in csv.get_data(as_text=True)


def test_the_api_still_answers_an_empty_range_with_an_empty_register(client, books):
    _, _, _, tokens, _ = books
    response = client.get(
        "/api/v1/exports/invoices.csv",
        query_string={"from": "2020-01-01", "to": "2020-01-31"},
        headers=bearer(tokens[Role.FINANCE]),
    )
    assert response.status_code == 200 and response.get_data(as_text=True).count("\n") == 1
