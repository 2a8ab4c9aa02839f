"""DESIGN.md §4, team rows, pinned through HTTP: every role × every team/settings/invitation
action, on the web pages and on the API. Allowed answers success; denied answers 403 and
changes nothing (another agency's objects answer 404: see test_route_isolation)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from agency.db import db
from tenants.models import Agency, Invitation, Membership, Role, User
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import AuthActions, bearer, form_post
from tests.world import (
    changed_tables,
    close_admin_connections,
    csrf_token,
    seeded,
    sign_in,
    snapshot,
)

ROLES = ["owner", "manager", "staff", "finance", "client_manager", "client_viewer"]
MANAGERS = {"owner", "manager"}


@dataclass
class World:
    agency: Agency
    target: Membership  # a staff member everyone may act upon
    invitation: Invitation
    client_id: str


def _world_for(role: str):  # noqa: ANN202
    """The agency, its target member, a pending invitation and the acting ``role``'s user;
    seeded once per process and role, then put back from a copy (``tests.world.seeded``)."""

    def build() -> tuple:
        w, actor = _build_world_for(role)
        return w.agency.id, w.target.id, w.invitation.id, w.client_id, actor.id

    def thaw(ids: tuple):  # noqa: ANN202
        agency_id, target_id, invitation_id, client_id, actor_id = ids
        agency = db.session.scalar(select(Agency).where(Agency.id == agency_id))
        target = db.session.scalar(select(Membership).where(Membership.id == target_id))
        invitation = db.session.scalar(select(Invitation).where(Invitation.id == invitation_id))
        actor = db.session.scalar(select(User).where(User.id == actor_id))
        return World(agency, target, invitation, client_id), actor

    return seeded(f"team permissions as {role}", build, thaw=thaw)


def _build_world_for(role: str):  # noqa: ANN202
    agency = make_agency()
    company = make_client(agency, "Bella Vista")
    staff = make_member(agency, Role.STAFF, email="target@example.com")
    if role == "owner":
        actor = owner_of(agency)
    elif role in ("client_manager", "client_viewer"):
        actor = make_member(agency, Role(role), client=company)
    else:
        actor = make_member(agency, Role(role))
    from tenants.service import issue_token

    owner = owner_of(agency)
    from agency.team.invitations import create_invitation
    from tenants.service import load_access

    invitation, _token = create_invitation(load_access(owner, agency), "p@example.com", "finance")
    issue_token(owner, agency)
    target = db.session.scalar(select(Membership).where(Membership.user_id == staff.id))
    return World(agency, target, invitation, str(company.id)), actor


def _web(w: World):  # noqa: ANN202
    base = f"/a/{w.agency.slug}"
    members = f"{base}/members"
    return {
        "view members": ("GET", members, None, 200),
        "invite manager": (
            "POST",
            f"{members}/invite",
            {"invite-email": "n@example.com", "invite-role": "manager"},
            302,
        ),
        "invite client manager": (
            "POST",
            f"{members}/invite",
            {
                "invite-email": "c@example.com",
                "invite-role": "client_manager",
                "invite-client_id": w.client_id,
            },
            302,
        ),
        "change role": ("POST", f"{members}/{w.target.id}/role", {"role": "finance"}, 302),
        "assign clients": (
            "POST",
            f"{members}/{w.target.id}/assignments",
            {"client_ids": [w.client_id]},
            302,
        ),
        "deactivate": ("POST", f"{members}/{w.target.id}/deactivate", {}, 302),
        "resend invitation": ("POST", f"{base}/invitations/{w.invitation.id}/resend", {}, 302),
        "revoke invitation": ("POST", f"{base}/invitations/{w.invitation.id}/revoke", {}, 302),
        "view settings": ("GET", f"{base}/settings", None, 200),
        "save settings": (
            "POST",
            f"{base}/settings",
            {
                "settings-name": "Renamed",
                "settings-default_locale": "en",
                "settings-timezone": "UTC",
                "settings-default_currency": "EUR",
            },
            302,
        ),
    }


def _api(w: World):  # noqa: ANN202
    return {
        "list members": ("GET", "/api/v1/members", None, 200),
        "list invitations": ("GET", "/api/v1/invitations", None, 200),
        "invite staff": (
            "POST",
            "/api/v1/invitations",
            {"email": "a@example.com", "role": "staff"},
            201,
        ),
        "invite client viewer": (
            "POST",
            "/api/v1/invitations",
            {"email": "v@example.com", "role": "client_viewer", "client_id": w.client_id},
            201,
        ),
        "patch member": ("PATCH", f"/api/v1/members/{w.target.id}", {"role": "finance"}, 200),
        "deactivate member": ("PATCH", f"/api/v1/members/{w.target.id}", {"active": False}, 200),
        "resend invitation": ("POST", f"/api/v1/invitations/{w.invitation.id}/resend", None, 200),
        "revoke invitation": ("POST", f"/api/v1/invitations/{w.invitation.id}/revoke", None, 200),
        "read settings": ("GET", "/api/v1/agency", None, 200),
        "patch settings": ("PATCH", "/api/v1/agency", {"name": "Renamed"}, 200),
    }


WEB_ACTIONS = [
    "view members",
    "invite manager",
    "invite client manager",
    "change role",
    "assign clients",
    "deactivate",
    "resend invitation",
    "revoke invitation",
    "view settings",
    "save settings",
]
API_ACTIONS = [
    "list members",
    "list invitations",
    "invite staff",
    "invite client viewer",
    "patch member",
    "deactivate member",
    "resend invitation",
    "revoke invitation",
    "read settings",
    "patch settings",
]


def _snapshot(w: World) -> tuple:
    db.session.expire_all()
    target = db.session.get(Membership, w.target.id)
    invitation = db.session.get(Invitation, w.invitation.id)
    agency = db.session.get(Agency, w.agency.id)
    count = len(db.session.scalars(select(Invitation)).all())
    return (
        target.role,
        target.active,
        invitation.token_hash,
        invitation.revoked_at,
        agency.name,
        count,
    )


@pytest.fixture(scope="module", autouse=True)
def _admin_connections():
    yield
    close_admin_connections()


@pytest.mark.parametrize("action", WEB_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_web_team_action_by_role(client, database_url, role: str, action: str):
    w, actor = _world_for(role)
    sign_in(client, actor)
    method, path, data, success = _web(w)[action]
    before, digest = _snapshot(w), snapshot()

    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data={"csrf_token": csrf_token(client), **data})

    changed = changed_tables(digest, snapshot())
    if role in MANAGERS:
        assert response.status_code == success, response.get_data(as_text=True)[:400]
        assert changed or method == "GET", "an allowed action really happens"
    else:
        assert response.status_code == 403
        assert _snapshot(w) == before
        assert not changed, f"a refused action wrote {changed}"


@pytest.mark.parametrize("action", API_ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_api_team_action_by_role(client, database_url, role: str, action: str):
    w, actor = _world_for(role)
    headers = bearer(token_for(actor, w.agency))
    method, path, data, success = _api(w)[action]
    before, digest = _snapshot(w), snapshot()

    response = client.open(path, method=method, json=data, headers=headers)

    changed = changed_tables(digest, snapshot())
    if role in MANAGERS:
        assert response.status_code == success, response.json
        assert changed or method == "GET", "an allowed action really happens"
    else:
        assert response.status_code == 403, response.json
        assert response.json["code"] == 403
        assert _snapshot(w) == before
        assert not changed, f"a refused action wrote {changed}"


@pytest.mark.parametrize("role", ROLES)
def test_only_owners_transfer_ownership(client, database_url, role: str):
    w, actor = _world_for(role)
    AuthActions(client).login(actor.email)
    response = form_post(
        client,
        f"/a/{w.agency.slug}/members/{w.target.id}/transfer-ownership",
        {},
        page=f"/a/{w.agency.slug}/",
    )
    api = client.post(
        f"/api/v1/members/{w.target.id}/transfer-ownership",
        headers=bearer(token_for(actor, w.agency)),
    )
    db.session.expire_all()
    if role == "owner":
        assert response.status_code == 302
        assert db.session.get(Membership, w.target.id).role == "owner"
        assert api.status_code == 403  # the web transfer already made the actor a manager
    else:
        assert (response.status_code, api.status_code) == (403, 403)
        assert db.session.get(Membership, w.target.id).role == "staff"


@pytest.mark.parametrize("role", ROLES)
def test_members_and_settings_menu_items_follow_the_role(client, database_url, role: str):
    w, actor = _world_for(role)
    AuthActions(client).login(actor.email)
    html = client.get(f"/a/{w.agency.slug}/").get_data(as_text=True)
    shown = (
        f'href="/a/{w.agency.slug}/members"' in html,
        f'href="/a/{w.agency.slug}/settings"' in html,
    )
    assert shown == ((True, True) if role in MANAGERS else (False, False))
