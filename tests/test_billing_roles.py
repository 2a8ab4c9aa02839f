"""Who sees which invoices: finance all, client managers their own company's finalized ones,
staff and client viewers nothing of billing; finance sees no credentials or internal notes."""

from __future__ import annotations

import pytest

from tenants.models import Role
from tests.billing_helpers import add_usage, make_rate_card
from tests.factories import make_agency, make_channel, make_client, make_member, token_for
from tests.helpers import bearer

PERIOD = "2026-10"


@pytest.fixture
def shop(client):
    agency = make_agency()
    acme, globex = make_client(agency, "Acme"), make_client(agency, "Globex")
    for company in (acme, globex):
        make_rate_card(agency, company)
        add_usage(agency, company, PERIOD, posts=2)
    people = {
        "finance": make_member(agency, Role.FINANCE),
        "staff": make_member(agency, Role.STAFF, assigned=[acme]),
        "acme_manager": make_member(agency, Role.CLIENT_MANAGER, client=acme),
        "acme_viewer": make_member(agency, Role.CLIENT_VIEWER, client=acme),
        "globex_manager": make_member(agency, Role.CLIENT_MANAGER, client=globex),
    }
    tokens = {name: token_for(user, agency) for name, user in people.items()}
    run = client.post(
        "/api/v1/invoices/generate", json={"period": PERIOD}, headers=bearer(tokens["finance"])
    ).get_json()
    ids = run["invoice_ids"]
    # Finalize only Acme's: Globex's stays a draft (never shown to a client).
    items = client.get("/api/v1/invoices", headers=bearer(tokens["finance"])).get_json()["items"]
    by_client = {i["client_id"]: i["id"] for i in items}
    client.post(
        f"/api/v1/invoices/{by_client[str(acme.id)]}/finalize", headers=bearer(tokens["finance"])
    )
    return agency, acme, globex, tokens, by_client, ids


def test_client_manager_sees_and_downloads_only_own_companys_finalized_invoices(client, shop):
    agency, acme, globex, tokens, by_client, _ids = shop
    mine = client.get("/api/v1/invoices", headers=bearer(tokens["acme_manager"])).get_json()
    assert [i["id"] for i in mine["items"]] == [by_client[str(acme.id)]]
    theirs = client.get("/api/v1/invoices", headers=bearer(tokens["globex_manager"])).get_json()
    assert theirs["items"] == []  # Globex's invoice is still a draft
    other = by_client[str(acme.id)]
    assert (
        client.get(
            f"/api/v1/invoices/{other}", headers=bearer(tokens["globex_manager"])
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/api/v1/invoices/{other}/pdf", headers=bearer(tokens["globex_manager"])
        ).status_code
        == 404
    )
    pdf = client.get(f"/api/v1/invoices/{other}/pdf", headers=bearer(tokens["acme_manager"]))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    draft = by_client[str(globex.id)]
    assert (
        client.get(
            f"/api/v1/invoices/{draft}", headers=bearer(tokens["globex_manager"])
        ).status_code
        == 404
    )
    # Reading is all: no lifecycle action for a client manager.
    act = client.post(f"/api/v1/invoices/{other}/void", headers=bearer(tokens["acme_manager"]))
    assert act.status_code == 403


@pytest.mark.parametrize("who", ["staff", "acme_viewer"])
def test_staff_and_client_viewers_get_403_on_billing_endpoints(client, shop, who):
    _agency, acme, _globex, tokens, by_client, _ids = shop
    invoice = by_client[str(acme.id)]
    headers = bearer(tokens[who])
    calls = [
        client.get("/api/v1/invoices", headers=headers),
        client.get(f"/api/v1/invoices/{invoice}", headers=headers),
        client.get(f"/api/v1/invoices/{invoice}/pdf", headers=headers),
        client.post("/api/v1/invoices/generate", json={"period": PERIOD}, headers=headers),
        client.post(f"/api/v1/invoices/{invoice}/finalize", headers=headers),
        client.post(f"/api/v1/invoices/{invoice}/credit-note", headers=headers),
        client.get(f"/api/v1/clients/{acme.id}/rate-card", headers=headers),
    ]
    assert [c.status_code for c in calls] == [403] * len(calls)


def test_finance_never_sees_channel_credentials_or_content(client, shop):
    agency, acme, _globex, tokens, _by_client, _ids = shop
    make_channel(
        agency,
        acme,
        network="webhook",
        settings={"url": "https://hooks.example/x"},
        secrets={"secret": "whsec_finance_must_not_see"},
    )
    headers = bearer(tokens["finance"])
    channels = client.get(f"/api/v1/clients/{acme.id}/channels", headers=headers)
    assert channels.status_code in (403, 404) or "whsec_finance" not in channels.get_data(
        as_text=True
    )
    posts = client.get("/api/v1/posts", headers=headers)
    assert posts.status_code == 403  # no content, so no internal comments either
