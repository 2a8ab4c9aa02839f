"""Client companies through HTTP: create, validate, edit, list, status transitions, checklist."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.db import db
from tenants.context import tenant_context
from tenants.models import ClientCompany, Invitation, Role
from tests.billing_helpers import make_rate_card
from tests.factories import (
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    owner_of,
    token_for,
)
from tests.helpers import bearer, form_post

IT_VAT = "12345670017"  # a valid Italian partita IVA
IT_PERSON_CF = "RCCMNL83S18D969H"

ITALIAN = {
    "name": "Pasticceria Rossi",
    "legal_name": "Pasticceria Rossi S.r.l.",
    "country": "IT",
    "vat_number": f"IT {IT_VAT}",
    "fiscal_code": IT_VAT,
    "address": "Via Roma 1, 20121 Milano MI",
    "billing_email": "Amministrazione@Rossi.example",
    "sdi_code": "abc1234",
    "pec": "",
    "currency": "EUR",
    "timezone": "Europe/Rome",
    "language": "it",
}


def _count(agency, model=ClientCompany) -> int:
    with tenant_context(agency.id):
        return db.session.scalar(select(func.count()).select_from(model))


def _clients(agency) -> list[ClientCompany]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(ClientCompany)))


@pytest.fixture
def agency(database_url):
    return make_agency("Studio Nord")


@pytest.fixture
def owner_token(agency):
    return token_for(owner_of(agency), agency)


def test_owner_creates_italian_client_on_the_web_and_values_are_normalised(client, auth, agency):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients"
    response = form_post(client, f"{base}/new", ITALIAN)
    assert response.status_code == 302
    (created,) = _clients(agency)
    assert response.location.endswith(f"{base}/{created.id}")
    assert created.status == "onboarding"
    assert created.vat_number == f"IT{IT_VAT}"
    assert created.sdi_code == "ABC1234"
    assert created.billing_email == "amministrazione@rossi.example"
    page = client.get(response.location).get_data(as_text=True)
    assert "Pasticceria Rossi" in page and "onboarding-checklist" in page
    with tenant_context(agency.id):
        actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions == ["client.created"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"vat_number": "IT12345678901"}, "vat_number"),  # bad check digit
        ({"vat_number": "DE136695976"}, "vat_number"),  # another country's VAT id
        ({"fiscal_code": "RCCMNL83S18D969X"}, "fiscal_code"),
        ({"fiscal_code": "12345678901"}, "fiscal_code"),  # 11 digits, not a valid IVA
        ({"country": "XX"}, "country"),
        ({"country": "ITA"}, "country"),
        ({"currency": "EURO"}, "currency"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"language": "fr"}, "language"),
        ({"billing_email": "not-an-email"}, "billing_email"),
        ({"pec": "pec@"}, "pec"),
        ({"sdi_code": "ABC12"}, "sdi_code"),
        ({"sdi_code": "", "pec": ""}, "sdi_code"),  # Italian: SDI or PEC required
        ({"sdi_code": "0000000", "pec": ""}, "pec"),  # 0000000 means "to the PEC"
    ],
)
def test_api_rejects_each_invalid_detail_and_writes_nothing(
    client, agency, owner_token, changes, field
):
    payload = {**ITALIAN, **changes}
    response = client.post("/api/v1/clients", json=payload, headers=bearer(owner_token))
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]
    assert response.json["code"] == 422 and response.json["message"]
    assert _count(agency) == 0
    assert _count(agency, AuditEvent) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"vat_number": "IT12345678901"}, "vat_number"),
        ({"fiscal_code": "NOTACODE"}, "fiscal_code"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"sdi_code": "", "pec": ""}, "sdi_code"),
    ],
)
def test_web_form_shows_field_error_and_writes_nothing(client, auth, agency, changes, field):
    auth.login(owner_of(agency).email)
    response = form_post(client, f"/a/{agency.slug}/clients/new", {**ITALIAN, **changes})
    assert response.status_code == 422
    assert "invalid-feedback" in response.get_data(as_text=True)
    assert _count(agency) == 0


def test_valid_alternatives_are_accepted(client, agency, owner_token):
    cases = [
        {"name": "A", "country": "IT", "fiscal_code": IT_PERSON_CF, "pec": "a@pec.example"},
        {"name": "B", "country": "IT", "sdi_code": "0000000", "pec": "b@pec.example"},
        {"name": "C", "country": "DE", "vat_number": "136695976"},
        {"name": "D", "country": "GR", "vat_number": "094259216"},
        {"name": "E", "country": "GB", "vat_number": "GB 980 7806 84"},
        {"name": "F", "country": "US", "vat_number": "12-3456789"},
        {"name": "G"},
    ]
    for payload in cases:
        response = client.post("/api/v1/clients", json=payload, headers=bearer(owner_token))
        assert response.status_code == 201, (payload, response.json)
    by_name = {c.name: c for c in _clients(agency)}
    assert by_name["C"].vat_number == "DE136695976"
    assert by_name["D"].vat_number == "EL094259216"
    assert by_name["E"].vat_number == "980780684"
    assert by_name["F"].vat_number == "123456789"
    assert by_name["G"].currency == "EUR" and by_name["G"].timezone == "UTC"


def test_duplicate_name_is_a_field_error_on_web_and_api(client, auth, agency, owner_token):
    make_client(agency, "Acme")
    response = client.post("/api/v1/clients", json={"name": "Acme"}, headers=bearer(owner_token))
    assert response.status_code == 422
    assert "name" in response.json["errors"]["json"]
    auth.login(owner_of(agency).email)
    page = form_post(client, f"/a/{agency.slug}/clients/new", {**ITALIAN, "name": "Acme"})
    assert page.status_code == 422
    assert "already exists" in page.get_data(as_text=True)
    assert _count(agency) == 1


def test_same_name_is_fine_in_another_agency(client, agency, owner_token):
    make_client(make_agency(), "Acme")
    response = client.post("/api/v1/clients", json={"name": "Acme"}, headers=bearer(owner_token))
    assert response.status_code == 201


def test_database_unique_violation_is_reported_as_field_error(app, agency, monkeypatch):
    from agency.clients import service
    from tenants.service import load_access

    make_client(agency, "Race")
    access = load_access(owner_of(agency), agency)
    # Simulate the race: the pre-check misses the row another request just committed.
    monkeypatch.setattr(service, "_name_taken", lambda *a: False)
    with tenant_context(agency.id), pytest.raises(service.ValidationFailed) as info:
        service.create_client(access, {"name": "Race"})
    assert "name" in info.value.errors
    assert _count(agency) == 1


def test_patch_updates_fields_and_validates_the_merged_result(client, agency, owner_token):
    created = client.post("/api/v1/clients", json=ITALIAN, headers=bearer(owner_token)).json
    url = f"/api/v1/clients/{created['id']}"
    # Clearing the SDI code alone leaves an Italian client with neither SDI nor PEC.
    bad = client.patch(url, json={"sdi_code": None}, headers=bearer(owner_token))
    assert bad.status_code == 422 and "sdi_code" in bad.json["errors"]["json"]
    ok = client.patch(
        url, json={"sdi_code": None, "pec": "rossi@pec.example"}, headers=bearer(owner_token)
    )
    assert ok.status_code == 200
    assert ok.json["pec"] == "rossi@pec.example" and ok.json["sdi_code"] is None
    assert ok.json["name"] == ITALIAN["name"]
    fetched = client.get(url, headers=bearer(owner_token)).json
    assert fetched["pec"] == "rossi@pec.example"
    assert set(fetched) >= {
        "name", "legal_name", "country", "vat_number", "fiscal_code", "address",
        "billing_email", "sdi_code", "pec", "currency", "timezone", "language", "status",
    }  # fmt: skip


def test_web_edit_saves_and_audits(client, auth, agency):
    target = make_client(agency, "Old name")
    auth.login(owner_of(agency).email)
    url = f"/a/{agency.slug}/clients/{target.id}/edit"
    response = form_post(client, url, {**ITALIAN, "name": "New name"})
    assert response.status_code == 302
    (saved,) = _clients(agency)
    assert saved.name == "New name" and saved.country == "IT"
    with tenant_context(agency.id):
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "client.updated"))
    assert "name" in event.data["fields"]


def test_list_is_cursor_paginated_with_constant_queries(client, agency, owner_token):
    from sqlalchemy import event

    for n in range(7):
        make_client(agency, f"Client {n:02d}", status="active" if n % 2 else "onboarding")
    statements: list[str] = []

    def count(*args, **kwargs):
        statements.append(args[2])

    client.get("/api/v1/me", headers=bearer(owner_token))  # the token's last-use write happens now
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        first = client.get("/api/v1/clients?limit=3", headers=bearer(owner_token))
        n_first = len(statements)
        statements.clear()
        client.get("/api/v1/clients?limit=6", headers=bearer(owner_token))
        assert len(statements) == n_first  # a bigger page costs no more queries
        statements.clear()
        second = client.get(
            f"/api/v1/clients?limit=3&cursor={first.json['next_cursor']}",
            headers=bearer(owner_token),
        )
        n_second = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert [c["name"] for c in first.json["items"]] == ["Client 00", "Client 01", "Client 02"]
    assert [c["name"] for c in second.json["items"]] == ["Client 03", "Client 04", "Client 05"]
    assert n_first == n_second
    third = client.get(
        f"/api/v1/clients?limit=3&cursor={second.json['next_cursor']}", headers=bearer(owner_token)
    ).json
    assert [c["name"] for c in third["items"]] == ["Client 06"] and third["next_cursor"] is None
    active = client.get("/api/v1/clients?status=active", headers=bearer(owner_token)).json
    assert {c["status"] for c in active["items"]} == {"active"} and len(active["items"]) == 3
    bad = client.get("/api/v1/clients?cursor=@@@", headers=bearer(owner_token))
    assert bad.status_code == 422


def test_web_list_filters_and_scopes_to_visible_clients(client, auth, agency):
    mine = make_client(agency, "Assigned Co", status="active")
    make_client(agency, "Other Co", status="paused")
    staff = make_member(agency, Role.STAFF, assigned=[mine])
    auth.login(staff.email)
    page = client.get(f"/a/{agency.slug}/clients/").get_data(as_text=True)
    assert "Assigned Co" in page and "Other Co" not in page
    auth.logout()
    auth.login(owner_of(agency).email)
    paused = client.get(f"/a/{agency.slug}/clients/?status=paused").get_data(as_text=True)
    assert "Other Co" in paused and "Assigned Co" not in paused


def test_status_transitions_follow_the_table(client, agency, owner_token):
    target = make_client(agency, "Flow", status="active")
    url = f"/api/v1/clients/{target.id}"
    assert (
        client.patch(url, json={"status": "paused"}, headers=bearer(owner_token)).json["status"]
        == "paused"
    )
    illegal = client.patch(url, json={"status": "onboarding"}, headers=bearer(owner_token))
    assert illegal.status_code == 409
    assert (
        client.patch(url, json={"status": "active"}, headers=bearer(owner_token)).json["status"]
        == "active"
    )
    assert (
        client.patch(url, json={"status": "offboarded"}, headers=bearer(owner_token)).json["status"]
        == "offboarded"
    )
    again = client.patch(url, json={"status": "paused"}, headers=bearer(owner_token))
    assert again.status_code == 409 and again.json["code"] == 409
    assert _clients(agency)[0].status == "offboarded"


def test_illegal_transition_with_other_fields_writes_nothing(client, agency, owner_token):
    target = make_client(agency, "Atomic", status="offboarded")
    response = client.patch(
        f"/api/v1/clients/{target.id}",
        json={"legal_name": "Changed", "status": "paused"},
        headers=bearer(owner_token),
    )
    assert response.status_code == 409
    assert _clients(agency)[0].legal_name is None
    assert _count(agency, AuditEvent) == 0


def test_web_illegal_transition_flashes_error(client, auth, agency):
    target = make_client(agency, "Paused Co", status="paused")
    auth.login(owner_of(agency).email)
    url = f"/a/{agency.slug}/clients/{target.id}"
    response = form_post(client, f"{url}/status", {"action": "pause"}, page=url)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "cannot be moved" in page
    assert _clients(agency)[0].status == "paused"
    ok = form_post(client, f"{url}/status", {"action": "resume"}, page=url)
    assert ok.status_code == 302 and _clients(agency)[0].status == "active"


def _complete_client(agency) -> ClientCompany:
    return make_client(
        agency,
        "Ready Co",
        legal_name="Ready S.r.l.",
        country="IT",
        vat_number=f"IT{IT_VAT}",
        address="Via Po 2, Torino",
        billing_email="billing@ready.example",
        sdi_code="ABC1234",
    )


def test_onboarding_checklist_tracks_each_step_and_offers_activation(client, auth, agency):
    target = _complete_client(agency)
    auth.login(owner_of(agency).email)
    url = f"/a/{agency.slug}/clients/{target.id}"

    def steps() -> str:
        return client.get(url).get_data(as_text=True)

    page = steps()
    assert 'class="done" data-step="details"' in page
    assert 'class="" data-step="channel"' in page
    assert 'class="" data-step="rate_card"' in page
    assert "Activate client" not in page
    early = form_post(client, f"{url}/status", {"action": "activate"}, page=url)
    assert early.status_code == 303 and _clients(agency)[0].status == "onboarding"

    make_channel(agency, target)
    make_policy(agency, target)
    assert 'class="done" data-step="policy"' in steps()
    assert "Activate client" not in steps()  # no client manager yet
    make_member(agency, Role.CLIENT_MANAGER, client=target)
    page = steps()
    assert 'class="done" data-step="client_manager"' in page
    assert "Activate client" not in page  # no rate card in force yet
    make_rate_card(agency, target)
    assert "Activate client" in steps()
    response = form_post(client, f"{url}/status", {"action": "activate"}, page=url)
    assert response.status_code == 302
    assert _clients(agency)[0].status == "active"
    assert "onboarding-checklist" not in steps()


def test_pending_invitation_counts_but_revoked_or_expired_does_not(app, agency):
    from datetime import timedelta

    from agency.clients.onboarding import onboarding_checklist
    from agency.db import utcnow

    target = _complete_client(agency)

    def invite(**fields) -> None:
        values = {"email": "cm@example.com", "expires_at": utcnow() + timedelta(days=7), **fields}
        db.session.add(
            Invitation(
                agency_id=agency.id,
                role="client_manager",
                client_id=target.id,
                token_hash=uuid.uuid4().hex,
                **values,
            )
        )
        db.session.commit()

    def invited() -> bool:
        with tenant_context(agency.id):
            step = {s.key: s for s in onboarding_checklist(target).steps}["client_manager"]
        return step.done

    invite(revoked_at=utcnow())
    assert not invited()
    # (another address: one pending invitation per address, the service closes expired ones)
    invite(expires_at=utcnow() - timedelta(days=1), email="late@example.com")
    assert not invited()
    invite()
    assert invited()
