"""Member management rules, exactly (written for the mutation run, bench/mutation/mutJ.md):
every refusal's field key and message, the audit record of each change and the channel
(web or api) it names, which owners count towards keeping one, and which API tokens a
deactivation revokes. The services are called directly, as the web views and the API do.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db, utcnow
from agency.errors import NotFound, PermissionDenied, ValidationFailed
from agency.team import service
from agency.team.service import MemberConflict
from tenants import service as accounts
from tenants.context import tenant_context
from tenants.models import ApiToken, Membership, Role
from tests.factories import make_agency, make_client, make_member, make_user, owner_of, token_for
from tests.helpers import bearer

LAST_OWNER = "The agency must keep at least one owner. Transfer ownership to someone first."
STAFF_ONLY = "Only staff members are assigned to clients."
AMONG = "Choose among this agency's client companies."
SCOPE = "A client membership takes a client role; an agency one an agency role."
ANOTHER = "Choose another active member of the agency team."
NO_MANAGING = "Your role does not allow managing members."


def _membership(user, agency, client=None) -> Membership:  # noqa: ANN001
    scope = Membership.client_id == client.id if client else Membership.client_id.is_(None)
    return db.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.agency_id == agency.id, scope
        )
    )


def _as(user, agency, call, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """``call(access, *args)`` as ``user``, in the agency's context, as a request would."""
    with tenant_context(agency.id):
        access = accounts.load_access(user, agency)
        return call(access, *args, **kwargs)


def _events(agency) -> list[tuple]:  # noqa: ANN001
    with tenant_context(agency.id):
        rows = db.session.scalars(select(AuditEvent)).all()
        found = [
            (e.action, e.subject_type, e.subject_id, e.client_id, e.via, e.actor_id, e.data)
            for e in rows
        ]
    return sorted(found, key=repr)


def _assigned(agency, user) -> list[str]:  # noqa: ANN001
    """The client names the members page shows for ``user``."""
    rows = _as(owner_of(agency), agency, service.list_members)
    return [[c.name for c in r.assigned] for r in rows if r.user.id == user.id][0]


def _team(agency):  # noqa: ANN001, ANN202
    mine = make_client(agency, "Mine")
    elsewhere = make_agency()
    theirs = make_client(elsewhere, "Theirs")
    gone = make_member(agency, Role.MANAGER)
    _membership(gone, agency).active = False
    db.session.commit()
    people = {
        "owner": owner_of(agency),
        "manager": make_member(agency, Role.MANAGER),
        "staff": make_member(agency, Role.STAFF),
        "viewer": make_member(agency, Role.CLIENT_VIEWER, client=mine),
        "gone": gone,
        "elsewhere": owner_of(elsewhere),
    }
    return people, {"MINE": str(mine.id), "THEIRS": str(theirs.id)}, mine


def _swap(value, ids):  # noqa: ANN001, ANN202
    if isinstance(value, dict):
        return {k: _swap(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [ids.get(v, v) for v in value]
    return value


NO_ARG = object()


@pytest.mark.parametrize(
    ("actor", "call", "target", "arg", "refusal"),
    [
        ("owner", "change_role", "staff", "emperor", {"role": ["Choose one of the roles."]}),
        ("owner", "change_role", "staff", "", {"role": ["Choose one of the roles."]}),
        ("owner", "change_role", "staff", None, {"role": ["Choose one of the roles."]}),
        ("manager", "change_role", "staff", "owner", "Your role cannot grant owner."),
        ("owner", "change_role", "viewer", "staff", {"role": [SCOPE]}),
        ("owner", "change_role", "staff", "client_viewer", {"role": [SCOPE]}),
        ("manager", "change_role", "owner", "manager", "Only an owner can change another owner."),
        ("staff", "change_role", "manager", "finance", NO_MANAGING),
        ("owner", "change_role", "owner", "manager", LAST_OWNER),
        ("owner", "change_role", "nobody", "finance", "No such member."),
        ("owner", "change_role", "not-an-id", "finance", "No such member."),
        ("owner", "set_active", "elsewhere", False, "No such member."),
        ("owner", "set_assignments", "manager", ["MINE"], {"client_ids": [STAFF_ONLY]}),
        ("owner", "set_assignments", "staff", ["MINE", "THEIRS"], {"client_ids": [AMONG]}),
        ("owner", "set_assignments", "staff", ["nonsense"], {"client_ids": [AMONG]}),
        (
            "owner",
            "update_member",
            "staff",
            {"role": "manager", "assigned_client_ids": ["MINE"]},
            {"assigned_client_ids": [STAFF_ONLY]},
        ),
        (
            "owner",
            "update_member",
            "manager",
            {"assigned_client_ids": ["MINE"]},
            {"assigned_client_ids": [STAFF_ONLY]},
        ),
        (
            "owner",
            "update_member",
            "staff",
            {"assigned_client_ids": ["THEIRS"]},
            {"assigned_client_ids": [AMONG]},
        ),
        ("manager", "set_active", "manager", False, "You cannot deactivate yourself."),
        ("owner", "set_active", "owner", False, LAST_OWNER),
        ("manager", "transfer_ownership", "staff", NO_ARG, "Only an owner can transfer ownership."),
        ("owner", "transfer_ownership", "viewer", NO_ARG, {"membership_id": [ANOTHER]}),
        ("owner", "transfer_ownership", "gone", NO_ARG, {"membership_id": [ANOTHER]}),
        ("owner", "transfer_ownership", "owner", NO_ARG, {"membership_id": [ANOTHER]}),
    ],
)
def test_each_member_refusal_is_exact_and_writes_nothing(
    app, database_url, actor, call, target, arg, refusal
):
    # Every field key and message of change_role, set_assignments, update_member, set_active
    # and transfer_ownership, and of the checks they share.
    agency = make_agency()
    people, ids, mine = _team(agency)
    if target == "viewer":
        target_id = _membership(people["viewer"], agency, mine).id
    elif target == "elsewhere":
        target_id = db.session.scalar(
            select(Membership.id).where(Membership.user_id == people[target].id)
        )
    elif target in people:
        target_id = _membership(people[target], agency).id
    else:
        target_id = uuid.uuid4() if target == "nobody" else target
    before = {(m.id, m.role, m.active) for m in db.session.scalars(select(Membership))}
    args = () if arg is NO_ARG else (_swap(arg, ids),)

    with pytest.raises((ValidationFailed, PermissionDenied, MemberConflict, NotFound)) as refused:
        _as(people[actor], agency, getattr(service, call), target_id, *args)

    if isinstance(refusal, dict):
        assert type(refused.value) is ValidationFailed
        assert refused.value.errors == refusal
    else:
        assert refused.value.message == refusal
        assert refused.value.errors == {}
    db.session.rollback()
    db.session.expire_all()
    assert {(m.id, m.role, m.active) for m in db.session.scalars(select(Membership))} == before
    assert _events(agency) == []
    assert _assigned(agency, people["staff"]) == []


def test_each_member_change_is_audited_exactly_and_as_web_by_default(app, database_url):
    # The web views call the services without ``via``: every record says "web".
    agency = make_agency()
    owner = owner_of(agency)
    shop = make_client(agency, "Shop")
    staff = make_member(agency, Role.STAFF)
    viewer = make_member(agency, Role.CLIENT_VIEWER, client=shop)
    heir = make_member(agency, Role.MANAGER)
    staff_m = _membership(staff, agency)
    viewer_m = _membership(viewer, agency, shop)
    heir_m = _membership(heir, agency)
    owner_m = _membership(owner, agency)

    _as(owner, agency, service.set_assignments, staff_m.id, [str(shop.id)])
    assert _assigned(agency, staff) == ["Shop"]
    _as(owner, agency, service.change_role, staff_m.id, "finance")
    _as(owner, agency, service.change_role, viewer_m.id, "client_manager")
    _as(owner, agency, service.set_active, heir_m.id, False)
    _as(owner, agency, service.set_active, heir_m.id, True)
    _as(owner, agency, service.transfer_ownership, heir_m.id)

    o, s, v, h = (str(u.id) for u in (owner, staff, viewer, heir))
    actor = owner.id

    def rec(action, m, client_id=None, **data):  # noqa: ANN001, ANN003, ANN202
        return (action, "membership", m.id, client_id, "web", actor, data)

    assert _events(agency) == sorted(
        [
            rec("member.assignments_changed", staff_m, user_id=s, client_ids=[str(shop.id)]),
            rec("member.role_changed", staff_m, user_id=s, old_role="staff", new_role="finance"),
            rec(
                "member.role_changed",
                viewer_m,
                shop.id,
                user_id=v,
                old_role="client_viewer",
                new_role="client_manager",
            ),
            rec("member.deactivated", heir_m, user_id=h),
            rec("member.activated", heir_m, user_id=h),
            rec("member.role_changed", heir_m, user_id=h, old_role="manager", new_role="owner"),
            rec("member.role_changed", owner_m, user_id=o, old_role="owner", new_role="manager"),
            rec("agency.ownership_transferred", heir_m, user_id=h, from_user_id=o),
        ],
        key=repr,
    )
    db.session.expire_all()
    roles = {m.id: m.role for m in db.session.scalars(select(Membership))}
    assert roles == {
        staff_m.id: "finance",
        viewer_m.id: "client_manager",
        heir_m.id: "owner",
        owner_m.id: "manager",
    }
    assert _assigned(agency, staff) == []  # a new role starts from no assignments


def test_a_patch_records_each_change_as_api_and_without_via_as_web(app, database_url):
    # update_member passes its channel on to change_role, set_assignments and set_active.
    agency = make_agency()
    owner = owner_of(agency)
    shop = make_client(agency, "Shop")
    person = make_member(agency, Role.MANAGER)
    m = _membership(person, agency)

    patches = [
        ({"role": "staff"}, "api"),
        ({"assigned_client_ids": [str(shop.id)]}, "api"),
        ({"active": False}, "api"),
        ({"active": True}, None),
        ({"role": "finance"}, None),
    ]
    for changes, via in patches:
        kwargs = {"via": via} if via else {}
        _as(owner, agency, service.update_member, m.id, changes, **kwargs)

    with tenant_context(agency.id):
        rows = db.session.execute(
            select(AuditEvent.action, AuditEvent.via, AuditEvent.data).order_by(
                AuditEvent.created_at
            )
        ).all()
    assert sorted((action, via, data.get("new_role")) for action, via, data in rows) == sorted(
        [
            ("member.role_changed", "api", "staff"),
            ("member.assignments_changed", "api", None),
            ("member.deactivated", "api", None),
            ("member.activated", "web", None),
            ("member.role_changed", "web", "finance"),
        ]
    )


def test_a_patch_checks_assignments_against_the_role_it_ends_with(app, database_url):
    agency = make_agency()
    owner = owner_of(agency)
    shop = make_client(agency, "Shop")
    staff = make_member(agency, Role.STAFF)
    promoted = make_member(agency, Role.MANAGER)

    changes = {
        staff: {"assigned_client_ids": [str(shop.id)]},
        promoted: {"role": "staff", "assigned_client_ids": [str(shop.id)]},
    }
    for user, patch in changes.items():
        _as(owner, agency, service.update_member, _membership(user, agency).id, patch)

    db.session.expire_all()
    assert [_membership(u, agency).role for u in changes] == ["staff", "staff"]
    assert [_assigned(agency, u) for u in changes] == [["Shop"], ["Shop"]]


def test_only_this_agencys_active_team_owners_count_towards_keeping_one(app, database_url):
    agency = make_agency()
    make_agency()  # another agency's owner does not keep this one owned
    owner = owner_of(agency)
    former = make_member(agency, Role.OWNER)
    _membership(former, agency).active = False  # nor does a deactivated owner
    db.session.commit()
    mine = _membership(owner, agency).id

    for call, arg in ((service.change_role, "manager"), (service.set_active, False)):
        with pytest.raises(MemberConflict) as refused:
            _as(owner, agency, call, mine, arg)
        assert refused.value.message == LAST_OWNER
        db.session.rollback()

    _as(owner, agency, service.set_active, _membership(former, agency).id, True)
    _as(owner, agency, service.change_role, mine, "manager")
    db.session.expire_all()
    assert _membership(owner, agency).role == "manager"


def test_deactivation_revokes_only_this_agencys_live_tokens(client, database_url):
    agency, other = make_agency(), make_agency()
    person = make_member(agency, Role.MANAGER)
    accounts.add_membership(person, other, Role.MANAGER)
    db.session.commit()
    here, there, old = (token_for(person, a) for a in (agency, other, agency))
    revoked_earlier = utcnow() - timedelta(hours=1)
    old_row = db.session.scalar(select(ApiToken).where(ApiToken.prefix == old[:10]))
    old_row.revoked_at = revoked_earlier
    db.session.commit()
    old_id = old_row.id

    _as(owner_of(agency), agency, service.set_active, _membership(person, agency).id, False)

    assert client.get("/api/v1/members", headers=bearer(here)).status_code == 401
    assert client.get("/api/v1/members", headers=bearer(there)).status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, old_id).revoked_at == revoked_earlier


def test_a_co_owner_hands_over_their_own_team_membership_only(app, database_url):
    # transfer_ownership finds the acting owner's membership: this agency's, the agency-team
    # one, not the founder's, not one elsewhere, not a client membership of theirs.
    agency = make_agency()
    shop_id = make_client(agency, "Shop").id
    founder = owner_of(agency)
    co_owner = make_user()
    # Several agencies elsewhere: without its agency condition the lookup would take
    # whichever row comes first, and with one other agency that is a coin toss.
    others = [make_agency() for _ in range(5)]
    for elsewhere in others:
        accounts.add_membership(co_owner, elsewhere, Role.STAFF)
    accounts.add_membership(co_owner, agency, Role.CLIENT_VIEWER, client_id=shop_id)
    accounts.add_membership(co_owner, agency, Role.OWNER)
    db.session.commit()
    heir = make_member(agency, Role.STAFF)

    _as(co_owner, agency, service.transfer_ownership, _membership(heir, agency).id, via="api")

    db.session.expire_all()
    roles = {
        (m.user_id, m.agency_id, m.client_id): m.role
        for m in db.session.scalars(select(Membership))
    }
    assert roles == {
        (founder.id, agency.id, None): "owner",
        (co_owner.id, agency.id, None): "manager",
        (co_owner.id, agency.id, shop_id): "client_viewer",
        (heir.id, agency.id, None): "owner",
        **{(co_owner.id, other.id, None): "staff" for other in others},
        **{(owner_of(other).id, other.id, None): "owner" for other in others},
    }
    with tenant_context(agency.id):
        rows = db.session.execute(select(AuditEvent.action, AuditEvent.via, AuditEvent.data))
        recorded = sorted((a, v, d.get("user_id"), d.get("new_role")) for a, v, d in rows)
    assert recorded == sorted(
        [
            ("agency.ownership_transferred", "api", str(heir.id), None),
            ("member.role_changed", "api", str(co_owner.id), "manager"),
            ("member.role_changed", "api", str(heir.id), "owner"),
        ]
    )


def test_the_members_list_puts_active_team_first_then_clients_then_the_inactive(app, database_url):
    agency = make_agency()
    # Stored, and indexed by id, in the reverse of name order: only ORDER BY name sorts them.
    zeta = make_client(agency, "Zeta", id=uuid.UUID(int=1))
    alfa = make_client(agency, "Alfa", id=uuid.UUID(int=2))
    elsewhere = make_agency()  # another agency's member and client are not listed
    make_member(elsewhere, Role.STAFF, assigned=[make_client(elsewhere, "Beta")])
    gone = make_member(agency, Role.MANAGER)
    viewer = make_member(agency, Role.CLIENT_VIEWER, client=zeta)
    second = make_member(agency, Role.FINANCE)
    first = make_member(agency, Role.STAFF, assigned=[zeta, alfa])
    _membership(gone, agency).active = False
    # `first` was stored (user and membership) after `second` but dates from just before it:
    # only the order by creation time lists it first.
    _membership(first, agency).created_at = _membership(second, agency).created_at - timedelta(
        microseconds=1
    )
    db.session.commit()

    rows = _as(owner_of(agency), agency, service.list_members)

    assert [
        (r.user.email, r.membership.role, r.client_name, [c.name for c in r.assigned]) for r in rows
    ] == [
        (owner_of(agency).email, "owner", None, []),
        (first.email, "staff", None, ["Alfa", "Zeta"]),
        (second.email, "finance", None, []),
        (viewer.email, "client_viewer", "Zeta", []),
        (gone.email, "manager", None, []),
    ]
    assert [c.name for c in _as(owner_of(agency), agency, service.all_clients)] == ["Alfa", "Zeta"]


def test_a_patch_with_no_assignments_for_a_role_that_takes_none_is_not_refused(
    client, database_url
):
    """The bug mutJ.md found: `{"role": "manager", "assigned_client_ids": []}` changed the
    role, then answered 422 about a field the request does not have; and a manager's own
    `GET /members` item (`assigned_client_ids: []`) could not be sent back."""
    agency = make_agency()
    shop = make_client(agency, "Shop")
    staff = make_member(agency, Role.STAFF, assigned=[shop])
    manager = make_member(agency, Role.MANAGER)
    headers = bearer(token_for(owner_of(agency), agency))
    path = "/api/v1/members/{}"

    demoted = client.patch(
        path.format(_membership(staff, agency).id),
        json={"role": "manager", "assigned_client_ids": []},
        headers=headers,
    )
    unchanged = client.patch(
        path.format(_membership(manager, agency).id),
        json={"assigned_client_ids": []},
        headers=headers,
    )

    assert (demoted.status_code, unchanged.status_code) == (200, 200), demoted.get_data(True)
    db.session.expire_all()
    assert [_membership(u, agency).role for u in (staff, manager)] == ["manager", "manager"]
    assert _assigned(agency, staff) == []
    # Assignments for a role that takes none are still refused, before anything is written.
    refused = client.patch(
        path.format(_membership(manager, agency).id),
        json={"role": "client_viewer", "assigned_client_ids": [str(shop.id)]},
        headers=headers,
    )
    assert refused.status_code == 422
    db.session.expire_all()
    assert _membership(manager, agency).role == "manager"
