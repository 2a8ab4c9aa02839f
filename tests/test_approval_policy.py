"""Approval policy per client through HTTP: PUT API and the web form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db
from agency.workflow.models import ApprovalPolicy
from tenants.context import tenant_context
from tenants.models import Role
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer, form_post

GOOD = {
    "internal_review": False,
    "client_approval": "all",
    "reply_policy": "internal_only",
    "lead_time_hours": 48,
    "reminder_hours": [4, 24, 24],
    "late_rule": "publish_when_approved",
}


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "Policy Co")


@pytest.fixture
def headers(agency):
    return bearer(token_for(owner_of(agency), agency))


def _policies(agency) -> list[ApprovalPolicy]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(ApprovalPolicy)))


def _url(target) -> str:
    return f"/api/v1/clients/{target.id}/approval-policy"


def test_put_saves_and_returns_the_policy(client, agency, target, headers):
    approver = make_member(agency, Role.CLIENT_MANAGER, client=target)
    response = client.put(
        _url(target), json={**GOOD, "approver_ids": [str(approver.id)]}, headers=headers
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["client_approval"] == "all" and body["internal_review"] is False
    assert body["reminder_hours"] == [24, 4]  # de-duplicated, furthest first
    assert body["approver_ids"] == [str(approver.id)]
    assert client.get(_url(target), headers=headers).json == body
    # PUT again replaces: one policy per client.
    again = client.put(_url(target), json={**GOOD, "client_approval": "none"}, headers=headers)
    assert again.json["client_approval"] == "none" and again.json["approver_ids"] == []
    assert len(_policies(agency)) == 1
    with tenant_context(agency.id):
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "approval_policy.saved")
        ).all()
    assert len(events) == 2 and events[0].client_id == target.id


def test_get_before_any_policy_is_404(client, target, headers):
    assert client.get(_url(target), headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client_approval": "most"}, "client_approval"),
        ({"reply_policy": "sometimes"}, "reply_policy"),
        ({"late_rule": "panic"}, "late_rule"),
        ({"lead_time_hours": -1}, "lead_time_hours"),
        ({"lead_time_hours": "soon"}, "lead_time_hours"),
        ({"reminder_hours": [0]}, "reminder_hours"),
        ({"reminder_hours": [-4]}, "reminder_hours"),
        ({"reminder_hours": "24"}, "reminder_hours"),
        ({"internal_review": "maybe"}, "internal_review"),
        ({"approver_ids": ["not-a-uuid"]}, "approver_ids"),
    ],
)
def test_invalid_policy_is_422_and_writes_nothing(client, agency, target, headers, changes, field):
    response = client.put(_url(target), json={**GOOD, **changes}, headers=headers)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert _policies(agency) == []


def test_approvers_must_be_active_client_managers_of_this_client(client, agency, target, headers):
    other = make_client(agency, "Other Co")
    cases = [
        make_member(agency, Role.CLIENT_VIEWER, client=target),  # not a manager
        make_member(agency, Role.CLIENT_MANAGER, client=other),  # another client
        make_member(agency, Role.STAFF, assigned=[target]),  # agency staff
        make_member(make_agency(), Role.CLIENT_MANAGER, client=target),  # another agency
    ]
    for user in cases:
        response = client.put(
            _url(target), json={**GOOD, "approver_ids": [str(user.id)]}, headers=headers
        )
        assert response.status_code == 422, user
        assert "approver_ids" in response.json["errors"]["json"]
    assert _policies(agency) == []


def test_deactivated_client_manager_cannot_be_an_approver(client, agency, target, headers):
    from tenants.models import Membership

    user = make_member(agency, Role.CLIENT_MANAGER, client=target)
    membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
    membership.active = False
    db.session.commit()
    response = client.put(_url(target), json={"approver_ids": [str(user.id)]}, headers=headers)
    assert response.status_code == 422


def test_web_form_saves_policy_and_shows_errors(client, auth, agency, target):
    approver = make_member(agency, Role.CLIENT_MANAGER, client=target)
    auth.login(owner_of(agency).email)
    url = f"/a/{agency.slug}/clients/{target.id}/approval-policy"
    page = client.get(url).get_data(as_text=True)
    assert approver.email in page
    bad = form_post(
        client,
        url,
        {"client_approval": "any", "reply_policy": "same", "late_rule": "hold",
         "lead_time_hours": "-3", "reminder_hours": "24, x"},
    )  # fmt: skip
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Enter whole hours" in text and "positive whole hours" in text
    assert _policies(agency) == []
    ok = form_post(
        client,
        url,
        {"internal_review": "y", "client_approval": "any", "approver_ids": str(approver.id),
         "reply_policy": "none", "lead_time_hours": "12", "reminder_hours": "2; 6",
         "late_rule": "notify"},
    )  # fmt: skip
    assert ok.status_code == 302
    (policy,) = _policies(agency)
    assert policy.internal_review is True and policy.reply_policy == "none"
    assert policy.reminder_hours == [6, 2] and policy.approver_ids == [str(approver.id)]
    detail = client.get(ok.location).get_data(as_text=True)
    assert "policy-summary" in detail and 'class="done" data-step="policy"' in detail


@pytest.mark.parametrize("body", [{}, {"client_approval": "none"}, None])
def test_put_without_the_whole_policy_is_refused_and_keeps_it(
    client, agency, target, headers, body
):
    # An empty or partial PUT used to reset every omitted field to its default, silently.
    saved = client.put(_url(target), json=GOOD, headers=headers)
    assert saved.status_code == 200
    response = client.put(_url(target), json=body, headers=headers)
    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"]
    assert client.get(_url(target), headers=headers).json == saved.json


def test_the_documented_put_names_every_required_field_and_promises_no_defaults(client):
    """Its description said "omitted fields take their defaults" while five were required."""
    document = client.get("/api/v1/openapi.json").get_json()
    (path,) = [p for p in document["paths"] if p.endswith("/approval-policy")]
    operation = document["paths"][path]["put"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    described = operation.get("summary", "") + " " + operation.get("description", "")
    assert "take their defaults" not in described
    assert schema["required"]
    for field in schema["required"]:
        assert f"`{field}`" in described, field
    for field in set(schema["properties"]) - set(schema["required"]):
        assert f"`{field}`" in described, field  # and what leaving it out means
