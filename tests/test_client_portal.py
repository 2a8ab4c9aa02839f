"""The client portal: a client user sees only their company, never the agency's inside."""

from __future__ import annotations

import pytest

from tenants.models import Role
from tests.factories import make_agency, make_client, make_member, token_for
from tests.helpers import bearer

CLIENT_ROLES = [Role.CLIENT_MANAGER, Role.CLIENT_VIEWER]


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_user_sees_only_their_company(client, auth, database_url, role: Role):
    agency = make_agency("Aurora Social")
    mine = make_client(agency, "Trattoria Bella Vista")
    other = make_client(agency, "Northwind Outdoor")
    user = make_member(agency, role, client=mine)

    landing = auth.login(user.email)

    assert landing.location.endswith(f"/a/{agency.slug}/")
    html = client.get(landing.location).get_data(as_text=True)
    assert "Trattoria Bella Vista" in html
    assert "Northwind Outdoor" not in html
    assert f'href="/a/{agency.slug}/clients/{mine.id}"' in html
    assert f"/a/{agency.slug}/members" not in html and f"/a/{agency.slug}/settings" not in html
    assert client.get(f"/a/{agency.slug}/clients/{mine.id}").status_code == 200
    assert client.get(f"/a/{agency.slug}/clients/{other.id}").status_code == 404
    listing = client.get(f"/a/{agency.slug}/clients/").get_data(as_text=True)
    assert "Trattoria Bella Vista" in listing and "Northwind Outdoor" not in listing


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_user_never_reaches_members_or_settings(client, auth, database_url, role: Role):
    agency = make_agency()
    user = make_member(agency, role, client=make_client(agency))
    auth.login(user.email)
    token = token_for(user, agency)

    for path in ("members", "settings"):
        assert client.get(f"/a/{agency.slug}/{path}").status_code == 403
    for path in ("members", "invitations", "agency"):
        assert client.get(f"/api/v1/{path}", headers=bearer(token)).status_code == 403


def test_client_user_of_another_agency_sees_nothing_here(client, auth, database_url):
    agency = make_agency()
    elsewhere = make_agency()
    user = make_member(elsewhere, Role.CLIENT_MANAGER, client=make_client(elsewhere))
    auth.login(user.email)
    assert client.get(f"/a/{agency.slug}/").status_code == 404
    assert client.get(f"/a/{agency.slug}/logo").status_code == 404


def test_client_user_invited_for_two_companies_sees_both_and_no_third(client, auth, database_url):
    agency = make_agency()
    first, second = make_client(agency, "Alfa Srl"), make_client(agency, "Beta Spa")
    make_client(agency, "Gamma Snc")
    user = make_member(agency, Role.CLIENT_MANAGER, client=first)
    from agency.db import db
    from tenants import service

    service.add_membership(user, agency, Role.CLIENT_VIEWER, client_id=second.id)
    db.session.commit()
    auth.login(user.email)

    html = client.get(f"/a/{agency.slug}/").get_data(as_text=True)

    assert "Alfa Srl" in html and "Beta Spa" in html and "Gamma Snc" not in html
