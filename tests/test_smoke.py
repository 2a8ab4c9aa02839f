from tests.factories import make_agency, owner_of, token_for
from tests.helpers import bearer


def test_owner_can_log_in_and_see_dashboard(client, auth, database_url):
    agency = make_agency("Smoke Agency")
    owner = owner_of(agency)
    response = auth.login(owner.email)
    assert response.status_code == 302
    page = client.get(response.location)
    assert page.status_code == 200
    assert "Smoke Agency" in page.get_data(as_text=True)


def test_me_returns_roles(client, database_url):
    agency = make_agency()
    token = token_for(owner_of(agency), agency)
    response = client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["roles"] == ["owner"]
