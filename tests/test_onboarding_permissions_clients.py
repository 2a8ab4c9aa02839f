"""DESIGN.md §4 for client onboarding, pinned through HTTP: every role × every action, web and API.

Invisible client → 404 (no existence oracle); visible but the role may not → 403.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from agency.db import db
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany, Role, User
from tests.factories import (
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_user,
    owner_of,
    token_for,
)
from tests.helpers import bearer
from tests.world import (
    changed_tables,
    close_admin_connections,
    csrf_token,
    sign_in,
    snapshot,
)

ROLES = (
    "owner",
    "manager",
    "staff_assigned",
    "staff_unassigned",
    "finance",
    "client_manager_own",
    "client_manager_other",
    "client_viewer",
    "other_agency_owner",
)
MANAGERS = {"owner", "manager"}
SEES_TARGET = MANAGERS | {"staff_assigned", "finance", "client_manager_own", "client_viewer"}


@dataclass
class World:
    agency: Agency
    target: ClientCompany
    users: dict[str, User]
    home: dict[str, str]  # the agency slug each user works in


def _build() -> World:
    agency = make_agency("Perm Agency")
    target = make_client(agency, "Target Co", status="active")
    other = make_client(agency, "Other Co", status="active")
    elsewhere = make_agency("Elsewhere")
    users = {
        "owner": owner_of(agency),
        "manager": make_member(agency, Role.MANAGER),
        "staff_assigned": make_member(agency, Role.STAFF, assigned=[target]),
        "staff_unassigned": make_member(agency, Role.STAFF, assigned=[other]),
        "finance": make_member(agency, Role.FINANCE),
        "client_manager_own": make_member(agency, Role.CLIENT_MANAGER, client=target),
        "client_manager_other": make_member(agency, Role.CLIENT_MANAGER, client=other),
        "client_viewer": make_member(agency, Role.CLIENT_VIEWER, client=target),
        "other_agency_owner": owner_of(elsewhere),
    }
    home = {role: agency.slug for role in users} | {"other_agency_owner": elsewhere.slug}
    return World(agency, target, users, home)


def _reset(world: World) -> str:
    """Put the target back to 'active' and give it a fresh channel; returns the channel id."""
    with tenant_context(world.agency.id):
        target = db.session.get(ClientCompany, world.target.id, populate_existing=True)
        target.status = "active"
        db.session.commit()
    return str(make_channel(world.agency, world.target).id)


def _expected(role: str, action: str) -> str:
    if action == "list":
        return "ok"
    if action == "create":
        return "ok" if role in MANAGERS | {"other_agency_owner"} else "403"
    if role not in SEES_TARGET:
        return "404"
    if action in ("view", "channels"):
        return "ok"
    return "ok" if role in MANAGERS else "403"


def _outcome(status: int, method: str = "GET", changed: list[str] | None = None) -> str:
    """``ok``, ``403`` or ``404``; a refusal that wrote, or a write that did not, says so."""
    if status in (403, 404):
        return f"{status} but wrote {changed}" if changed else str(status)
    if method == "GET":
        return "ok" if status == 200 else f"answered {status}"
    if not 200 <= status < 400:
        return f"answered {status}"
    return "ok" if changed else f"answered {status} but wrote nothing"


# -- API ----------------------------------------------------------------------------------

API_ACTIONS = {
    "list": lambda c, t, ch, n: c("GET", "/api/v1/clients"),
    "view": lambda c, t, ch, n: c("GET", f"/api/v1/clients/{t}"),
    "create": lambda c, t, ch, n: c("POST", "/api/v1/clients", {"name": f"New {n}"}),
    "edit": lambda c, t, ch, n: c("PATCH", f"/api/v1/clients/{t}", {"legal_name": f"L {n}"}),
    "status": lambda c, t, ch, n: c("PATCH", f"/api/v1/clients/{t}", {"status": "paused"}),
    "channels": lambda c, t, ch, n: c("GET", f"/api/v1/clients/{t}/channels"),
    "add_channel": lambda c, t, ch, n: c(
        "POST", f"/api/v1/clients/{t}/channels", {"network": "manual", "name": f"M {n}"}
    ),
    "edit_channel": lambda c, t, ch, n: c(
        "PATCH", f"/api/v1/clients/{t}/channels/{ch}", {"name": f"R {n}"}
    ),
    "delete_channel": lambda c, t, ch, n: c("DELETE", f"/api/v1/clients/{t}/channels/{ch}"),
    "set_policy": lambda c, t, ch, n: c(
        "PUT",
        f"/api/v1/clients/{t}/approval-policy",
        {
            "internal_review": True,
            "client_approval": "none",
            "reply_policy": "same",
            "lead_time_hours": 24,
            "late_rule": "hold",
        },
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _admin_connections():
    yield
    close_admin_connections()


@pytest.mark.parametrize("action", sorted(API_ACTIONS))
def test_api_permissions(app, database_url, action):
    world = _build()
    outcomes, expected = {}, {}
    for n, role in enumerate(ROLES):
        channel_id = _reset(world)
        user = world.users[role]
        agency = world.agency if role != "other_agency_owner" else None
        if agency is None:
            from tenants.service import find_agency_by_slug

            agency = find_agency_by_slug(world.home[role])
        headers = bearer(token_for(user, agency))
        http = app.test_client()

        def call(method, path, body=None, headers=headers, http=http):  # noqa: ANN001, ANN202
            return http.open(path, method=method, json=body, headers=headers)

        before = snapshot()
        response = API_ACTIONS[action](call, world.target.id, channel_id, n)
        changed = changed_tables(before, snapshot())
        if response.status_code in (403, 404):
            assert response.json["code"] == response.status_code  # DESIGN.md §9 shape
        outcomes[role] = _outcome(response.status_code, response.request.method, changed)
        expected[role] = _expected(role, action)
    assert outcomes == expected


# -- web ----------------------------------------------------------------------------------


def _web(slug: str, t, ch) -> dict[str, tuple[str, str, dict | None]]:  # noqa: ANN001
    base = f"/a/{slug}/clients"
    return {
        "list": ("GET", f"{base}/", None),
        "view": ("GET", f"{base}/{t}", None),
        "create_form": ("GET", f"{base}/new", None),
        "create": (
            "POST",
            f"{base}/new",
            {"name": "Web New", "currency": "EUR", "timezone": "UTC", "language": "en"},
        ),  # noqa: E501
        "edit_form": ("GET", f"{base}/{t}/edit", None),
        "edit": (
            "POST",
            f"{base}/{t}/edit",
            {
                "name": "Target Co",
                "legal_name": "Changed",  # per role: see test_web_permissions
                "currency": "EUR",
                "timezone": "UTC",
                "language": "en",
            },
        ),  # noqa: E501
        "status": ("POST", f"{base}/{t}/status", {"action": "pause"}),
        "channels": ("GET", f"{base}/{t}/channels/", None),
        "add_channel_form": ("GET", f"{base}/{t}/channels/new?network=manual", None),
        # Names from the fresh channel's id: channel names are unique per client.
        "add_channel": ("POST", f"{base}/{t}/channels/new", {"network": "manual", "name": ch}),
        "edit_channel_form": ("GET", f"{base}/{t}/channels/{ch}/edit", None),
        "edit_channel": ("POST", f"{base}/{t}/channels/{ch}/edit", {"name": f"R {ch}"}),
        "disable_channel": ("POST", f"{base}/{t}/channels/{ch}/disable", {}),
        "delete_channel": ("POST", f"{base}/{t}/channels/{ch}/delete", {}),
        "policy_form": ("GET", f"{base}/{t}/approval-policy", None),
        "set_policy": (
            "POST",
            f"{base}/{t}/approval-policy",
            {
                "client_approval": "none",
                "reply_policy": "same",
                "late_rule": "hold",
                "lead_time_hours": "24",
                "reminder_hours": "",
            },
        ),  # noqa: E501
    }


WEB_ACTIONS = sorted(_web("x", "t", "c"))


def _web_expected(role: str, action: str) -> str:
    base = action.removesuffix("_form")
    base = {"disable_channel": "edit_channel"}.get(base, base)
    if role == "other_agency_owner" and action != "list" and base != "create":
        return "404"
    return _expected(role, base)


@pytest.mark.parametrize("action", WEB_ACTIONS)
def test_web_permissions(app, database_url, action):
    world = _build()
    outcomes, expected = {}, {}
    for role in ROLES:
        channel_id = _reset(world)
        http = app.test_client()
        sign_in(http, world.users[role])
        token = csrf_token(http)
        # Other-agency owners aim at *this* agency's client through their own agency's URL.
        slug = world.home[role]
        method, path, data = _web(slug, world.target.id, channel_id)[action]
        if action == "edit":
            data = {**data, "legal_name": f"Changed by {role}"}  # so each edit changes a row
        before = snapshot()
        if method == "GET":
            response = http.get(path)
        else:
            response = http.post(path, data={"csrf_token": token, **(data or {})})
        outcomes[role] = _outcome(response.status_code, method, changed_tables(before, snapshot()))
        expected[role] = _web_expected(role, action)
        if action == "create" and outcomes[role] == "ok":
            with tenant_context(world.agency.id):
                created = db.session.scalar(
                    select(ClientCompany).where(ClientCompany.name == "Web New")
                )
                if created is not None:
                    db.session.delete(created)
                    db.session.commit()
    assert outcomes == expected


def test_other_agency_slug_without_membership_is_404(client, auth, database_url):
    world = _build()
    stranger = make_user()
    auth.login(stranger.email)
    assert client.get(f"/a/{world.agency.slug}/clients/").status_code == 404
    assert client.get(f"/a/{world.agency.slug}/clients/{world.target.id}").status_code == 404
