"""Pins for the bugs the no-server-errors sweep found, and for security properties around them.

Each input test would have answered 500 (or written half a change) before its fix.
"""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.channels.models import Channel
from agency.db import db
from tenants.context import tenant_context
from tenants.models import ApiToken, ClientCompany
from tests.factories import (
    PASSWORD,
    make_agency,
    make_channel,
    make_client,
    make_user,
    owner_of,
    token_for,
)
from tests.helpers import bearer, csrf_from, session_id_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _count(agency, model) -> int:  # noqa: ANN001
    with tenant_context(agency.id):
        return db.session.scalar(select(func.count()).select_from(model))


def _sign_in(client, user) -> None:  # noqa: ANN001
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(user)
        session["_fresh"] = True


# -- NUL characters and lone surrogates: PostgreSQL cannot store them ------------------------


def test_nul_in_an_api_field_is_a_400_naming_the_field_and_writes_nothing(client, database_url):
    agency = make_agency()
    token = token_for(owner_of(agency), agency)

    response = client.post("/api/v1/clients", json={"name": "Acme\x00"}, headers=bearer(token))

    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 400 and body["status"] == "Bad Request"
    assert "NUL" in body["message"]
    assert body["errors"] == {"json": {"name": [body["message"]]}}
    assert _count(agency, ClientCompany) == 0
    assert _count(agency, AuditEvent) == 0


def test_nul_nested_in_channel_settings_is_refused(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    token = token_for(owner_of(agency), agency)

    response = client.post(
        f"/api/v1/clients/{acme.id}/channels",
        json={
            "network": "mastodon",
            "name": "Toots",
            "settings": {"instance_url": "https://m.example", "access_token": "t\x00k"},
        },
        headers=bearer(token),
    )

    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "json": {"settings.access_token": [response.get_json()["message"]]}
    }
    assert _count(agency, Channel) == 0


def test_nul_in_login_credentials_is_a_400_not_a_crash(client, database_url):
    agency = make_agency()
    owner = owner_of(agency)

    response = client.post(
        "/api/v1/tokens",
        json={"email": owner.email + "\x00", "password": PASSWORD, "agency": agency.slug},
    )

    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_lone_surrogate_in_json_is_a_400(client, database_url):
    agency = make_agency()
    token = token_for(owner_of(agency), agency)

    response = client.patch(
        "/api/v1/agency",
        data='{"name": "Agency \\ud800"}',
        headers={**bearer(token), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.get_json()["errors"] == {"json": {"name": [response.get_json()["message"]]}}
    db.session.refresh(agency)
    assert "\ud800" not in agency.name


def test_deeply_nested_json_is_a_400_not_a_recursion_error(client, database_url):
    agency = make_agency()
    token = token_for(owner_of(agency), agency)

    response = client.post(
        "/api/v1/clients",
        data="[" * 100_000 + "]" * 100_000,
        headers={**bearer(token), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert "nested too deeply" in response.get_json()["message"]


def test_nul_in_a_web_form_shows_a_clear_400_page_and_writes_nothing(client, database_url):
    agency = make_agency()
    _sign_in(client, owner_of(agency))
    page = client.get(f"/a/{agency.slug}/clients/new").get_data(as_text=True)

    response = client.post(
        f"/a/{agency.slug}/clients/new",
        data={"csrf_token": csrf_from(page), "name": "Acme\x00", "currency": "EUR"},
    )

    assert response.status_code == 400
    assert "The field name contains a character that is not allowed (NUL)." in response.get_data(
        as_text=True
    )
    assert _count(agency, ClientCompany) == 0


def test_nul_in_the_agency_slug_of_a_url_is_a_400(client, database_url):
    agency = make_agency()
    _sign_in(client, owner_of(agency))

    response = client.get("/a/bad%00slug/clients/")

    assert response.status_code == 400
    assert client.get(f"/a/{agency.slug}/clients/").status_code == 200


@pytest.mark.parametrize("name", ["status", "limit", "cursor", "unknown"])
def test_nul_in_a_query_string_is_a_400_on_the_api(client, database_url, name):
    """Under any parameter name, read by the route or not (the garbage-query sweep of
    tests/test_no_server_errors.py relies on it and sends NUL under one name only)."""
    agency = make_agency()
    token = token_for(owner_of(agency), agency)

    response = client.get(f"/api/v1/clients?{name}=active%00", headers=bearer(token))

    assert response.status_code == 400
    assert response.get_json()["errors"] == {"query": {name: [response.get_json()["message"]]}}


@pytest.mark.parametrize("name", ["status", "cursor", "unknown"])
def test_nul_in_a_query_string_is_a_400_page(client, database_url, name):
    agency = make_agency()
    _sign_in(client, owner_of(agency))

    response = client.get(f"/a/{agency.slug}/clients/?{name}=active%00")

    assert response.status_code == 400
    assert "not allowed (NUL)" in response.get_data(as_text=True)


# -- length limits: a value longer than its column -------------------------------------------


def test_bluesky_handle_longer_than_its_column_is_a_422(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    token = token_for(owner_of(agency), agency)

    response = client.post(
        f"/api/v1/clients/{acme.id}/channels",
        json={
            "network": "bluesky",
            "name": "Sky",
            "settings": {"handle": "h" * 201, "app_password": "pw"},
        },
        headers=bearer(token),
    )

    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert errors == {"settings": {"handle": ["Use at most 200 characters."]}}
    assert _count(agency, Channel) == 0


# -- all or nothing: one request, one change --------------------------------------------------


def test_channel_patch_with_a_bad_status_changes_nothing_at_all(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    channel = make_channel(agency, acme, name="Toots")
    token = token_for(owner_of(agency), agency)

    response = client.patch(
        f"/api/v1/clients/{acme.id}/channels/{channel.id}",
        json={"name": "Renamed", "status": "nope"},
        headers=bearer(token),
    )

    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert list(errors) == ["status"] and "connected, disabled" in errors["status"][0]
    with tenant_context(agency.id):
        stored = db.session.scalar(select(Channel.name).where(Channel.id == channel.id))
    assert stored == "Toots"
    assert _count(agency, AuditEvent) == 0


def test_channel_patch_of_name_and_status_together_still_works(client, database_url):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    channel = make_channel(agency, acme, name="Toots")
    token = token_for(owner_of(agency), agency)

    response = client.patch(
        f"/api/v1/clients/{acme.id}/channels/{channel.id}",
        json={"name": "Renamed", "status": "disabled"},
        headers=bearer(token),
    )

    assert response.status_code == 200
    assert response.get_json()["name"] == "Renamed"
    assert response.get_json()["status"] == "disabled"
    assert _count(agency, AuditEvent) == 2  # channel.updated, channel.disabled


# -- security pins ---------------------------------------------------------------------------


def test_user_text_is_escaped_on_pages(client, database_url):
    agency = make_agency()
    make_client(agency, "<script>alert(1)</script>")
    _sign_in(client, owner_of(agency))

    for path in ("/", "/clients/"):
        html = client.get(f"/a/{agency.slug}{path}").get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_outbox_html_is_shown_in_a_script_free_sandbox(make_app, tmp_path, database_url):
    from agency.mail import service as mail

    app = make_app(smtp_host=None, mail_outbox_dir=tmp_path, demo=True)
    with app.app_context():
        mail.send_mail("a@example.com", "Hi", "text", "<p>hi</p><script>alert(1)</script>")
        client = app.test_client()
        user = make_user("a@example.com")
        with client.session_transaction() as session:
            session["_user_id"] = session_id_for(user)
        [name] = [p.name for p in tmp_path.iterdir()]
        page = client.get(f"/dev/outbox/{name}").get_data(as_text=True)
        iframe = re.search(r"<iframe[^>]*>", page).group(0)
        assert re.search(r'\ssandbox(\s|>|="")', iframe), iframe  # no allow-scripts
        assert "allow-" not in iframe
        html = client.get(f"/dev/outbox/{name}/html")
        assert html.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "script-src" not in html.headers["Content-Security-Policy"]


def test_logo_is_served_as_an_image_the_browser_may_not_sniff(client, app, database_url):
    agency = make_agency()
    _sign_in(client, owner_of(agency))
    page = client.get(f"/a/{agency.slug}/settings").get_data(as_text=True)
    polyglot = PNG + b"<html><script>alert(1)</script></html>"
    client.post(
        f"/a/{agency.slug}/settings/logo",
        data={"csrf_token": csrf_from(page), "logo-logo": (io.BytesIO(polyglot), "x.html")},
        content_type="multipart/form-data",
    )

    served = client.get(f"/a/{agency.slug}/logo")

    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    stored = list((app.config["REGIA"].media_root / "logos").iterdir())
    assert [p.name for p in stored if p.name.startswith(str(agency.id))] == [f"{agency.id}.png"]
