"""The OpenAPI document states what the server enforces, and the HTTP edges behave as it says:
public endpoints need no token, bodies are JSON (415 otherwise) and required, query-string
errors are reported under ``errors.query``, and every 405 names the allowed methods."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from agency.db import db
from agency.workflow.models import ApprovalPolicy
from tenants.context import tenant_context
from tenants.models import ClientCompany
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.helpers import bearer

PUBLIC = {
    ("/api/v1/signup", "post"),
    ("/api/v1/tokens", "post"),
    ("/api/v1/invitations/accept", "post"),
}


@pytest.fixture
def spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


@pytest.fixture
def owner_token(database_url) -> tuple:
    agency = make_agency()
    return agency, token_for(owner_of(agency), agency)


def _operations(spec: dict):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield path, method, operation


def _schema(spec: dict, name: str) -> dict:
    return spec["components"]["schemas"][name]


def test_public_endpoints_need_no_token_and_the_others_document_401(spec):
    seen_public = set()
    count = 0
    for path, method, operation in _operations(spec):
        count += 1
        if (path, method) in PUBLIC:
            assert operation.get("security") == [], (path, method)
            seen_public.add((path, method))
        else:
            assert "security" not in operation, (path, method)  # the document's bearerAuth
            assert "401" in operation["responses"] and "403" in operation["responses"]
    assert seen_public == PUBLIC
    assert spec["security"] == [{"bearerAuth": []}]
    assert count >= 20


def test_every_error_response_is_documented_with_the_error_shape(spec):
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        assert "default" not in responses, (path, method)  # no catch-all hides a status
        assert "400" in responses
        if "{" in path:
            assert "404" in responses, (path, method)
        if "requestBody" in operation:
            assert operation["requestBody"]["required"] is True
            assert {"415", "422"} <= responses.keys(), (path, method)
    error = _schema(spec, "Error")
    assert set(error["required"]) == {"code", "status"}
    assert {"message", "errors"} <= error["properties"].keys()


@pytest.mark.parametrize(
    ("schema", "field", "values"),
    [
        ("ClientCreateIn", "currency", {"EUR", "USD", "JPY", "CHF"}),
        ("ClientCreateIn", "language", {"en", "it"}),
        ("ClientOut", "status", {"onboarding", "active", "paused", "offboarded"}),
        ("ChannelIn", "network", {"mastodon", "bluesky", "webhook", "manual"}),
        ("InvitationIn", "role", {"owner", "staff", "client_manager", "client_viewer"}),
        ("PolicyIn", "client_approval", {"none", "any", "all"}),
        ("PolicyIn", "reply_policy", {"same", "internal_only", "none"}),
        ("PolicyIn", "late_rule", {"hold", "publish_when_approved", "notify"}),
        ("AgencySettings", "default_currency", {"EUR", "GBP"}),
    ],
)
def test_enums_are_in_the_document(spec, schema, field, values):
    enum = set(_schema(spec, schema)["properties"][field]["enum"])
    assert values <= enum


def test_lengths_formats_and_ranges_are_in_the_document(spec):
    signup = _schema(spec, "SignupIn")["properties"]
    assert signup["email"]["format"] == "email"
    assert signup["password"]["minLength"] == 10
    assert signup["name"]["minLength"] == 1 and signup["name"]["maxLength"] == 200
    assert "pattern" in signup["agency_name"]
    client_in = _schema(spec, "ClientCreateIn")["properties"]
    assert client_in["legal_name"]["maxLength"] == 300
    assert "Africa/Asmera" not in client_in["timezone"]["enum"]
    assert "Europe/Rome" in client_in["timezone"]["enum"]
    policy = _schema(spec, "PolicyIn")
    assert {"internal_review", "client_approval", "lead_time_hours"} <= set(policy["required"])
    limit = next(
        p for p in spec["paths"]["/api/v1/clients"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 100


@pytest.mark.parametrize("limit", ["0", "-1", "101", "many"])
def test_a_limit_out_of_range_is_refused_under_errors_query(client, owner_token, limit):
    _agency, token = owner_token
    response = client.get(f"/api/v1/clients?limit={limit}", headers=bearer(token))
    assert response.status_code == 422
    assert "limit" in response.json["errors"]["query"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("cursor=!!not-a-cursor", "cursor"), ("status=sleeping", "status"), ("colour=red", "colour")],
)
def test_query_string_errors_are_under_errors_query(client, owner_token, query, field):
    _agency, token = owner_token
    response = client.get(f"/api/v1/clients?{query}", headers=bearer(token))
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]) == {"query"}
    assert field in response.json["errors"]["query"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_json_sent_as_another_type_is_415_and_writes_nothing(client, owner_token, content_type):
    agency, token = owner_token
    response = client.post(
        "/api/v1/clients",
        data='{"name": "Acme"}',
        headers={**bearer(token), "Content-Type": content_type},
    )
    assert response.status_code == 415, response.json
    assert response.json["code"] == 415 and response.json["message"]
    with tenant_context(agency.id):
        assert db.session.scalar(select(func.count()).select_from(ClientCompany)) == 0


def test_a_body_is_required_where_the_document_says_so(client, owner_token):
    agency, token = owner_token
    acme = make_client(agency, "Acme")
    url = f"/api/v1/clients/{acme.id}/approval-policy"
    for body in (None, {}):
        response = client.put(url, json=body, headers=bearer(token))
        assert response.status_code == 422, response.json
        assert response.json["errors"]["json"]
    with tenant_context(agency.id):
        assert db.session.scalar(select(func.count()).select_from(ApprovalPolicy)) == 0


def _filled(rule: str) -> str:
    def fill(match: re.Match) -> str:
        return "00000000-0000-0000-0000-000000000000" if match.group(1) == "uuid" else "x"

    return re.sub(r"<(?:([^:<>]+):)?([^<>]+)>", fill, rule)


def test_every_405_carries_allow(app, client, owner_token):
    """A sweep over the route map: each route, asked with a method it lacks, says which it has."""
    _agency, token = owner_token
    checked = 0
    for rule in app.url_map.iter_rules():
        allowed = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        wrong = next(m for m in ("DELETE", "PUT", "PATCH", "POST", "GET") if m not in allowed)
        response = client.open(_filled(rule.rule), method=wrong, headers=bearer(token))
        if response.status_code != 405:
            continue  # another rule on the same path takes that method
        allow = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
        assert allowed <= allow, (rule.rule, wrong, response.headers.get("Allow"))
        checked += 1
    assert checked >= 30, checked
