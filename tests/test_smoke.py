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


def test_dashboard_links_each_client_to_its_page(client, auth, database_url):
    from tests.factories import make_client

    agency = make_agency()
    acme = make_client(agency, "Acme")
    auth.login(owner_of(agency).email)
    html = client.get(f"/a/{agency.slug}/").get_data(as_text=True)
    assert f'href="/a/{agency.slug}/clients/{acme.id}"' in html


def test_client_page_shows_policy_choices_by_their_labels(client, auth, database_url):
    from tests.factories import make_client, make_policy

    agency = make_agency()
    acme = make_client(agency, "Acme")
    make_policy(agency, acme, client_approval="all", late_rule="publish_when_approved")
    auth.login(owner_of(agency).email)
    html = client.get(f"/a/{agency.slug}/clients/{acme.id}").get_data(as_text=True)
    assert "All designated client managers" in html
    assert "Publish as soon as it is approved" in html
    assert "publish_when_approved" not in html


def test_pages_and_api_send_security_headers(client, database_url):
    for path in ("/login", "/api/v1/me", "/healthz"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        # Invitation links carry tokens: never send the URL to another origin.
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP in tests


def test_hsts_is_sent_when_served_over_https(make_app, database_url):
    app = make_app(secure_cookies=True)
    with app.app_context():
        response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
