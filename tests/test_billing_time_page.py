"""The time page: staff see their own entries on the clients assigned to them, nothing else."""

from __future__ import annotations

from tenants.models import Role
from tests.billing_helpers import add_time
from tests.factories import make_agency, make_client, make_member, owner_of
from tests.helpers import AuthActions


def test_staff_time_page_lists_only_their_entries_on_assigned_clients(app, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    northwind = make_client(agency, "Northwind")
    staff = make_member(agency, Role.STAFF, assigned=[acme])
    colleague = make_member(agency, Role.STAFF, assigned=[acme])
    add_time(agency, acme, "2026-01", 45, user=staff)
    add_time(agency, northwind, "2026-01", 77, user=staff)  # e.g. before being unassigned
    add_time(agency, acme, "2026-01", 99, user=colleague)
    seen = {}
    for who in (staff, owner_of(agency)):
        web = app.test_client()
        assert AuthActions(web).login(who.email).status_code == 302
        response = web.get(f"/a/{agency.slug}/time")
        assert response.status_code == 200
        table = response.get_data(as_text=True).split("Recent entries")[1]
        seen[who.id] = table
    mine = seen[staff.id]
    assert ">45<" in mine and "Acme" in mine
    assert ">77<" not in mine and "Northwind" not in mine  # not an assigned client
    assert ">99<" not in mine  # a colleague's entry
    everything = seen[owner_of(agency).id]
    assert all(f">{n}<" in everything for n in (45, 77, 99)) and "Northwind" in everything
