"""Channel endpoints through HTTP: SSRF-safe URLs at save time, a new endpoint needs the secret
again, webhook URLs are secrets, channel names are unique per client, localized add titles."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from agency import crypto
from agency.audit import AuditEvent
from agency.channels import names, service
from agency.channels.models import Channel
from agency.db import db
from tenants.context import tenant_context
from tests.factories import make_agency, make_channel, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

# network -> (endpoint setting, the other settings it needs)
# Saving a channel would ask its network, which the suite cannot reach.
pytestmark = pytest.mark.usefixtures("networks_not_checked")


ENDPOINTS = {
    "mastodon": ("instance_url", {"access_token": "tok"}),
    "bluesky": ("pds_url", {"handle": "a.bsky.social", "app_password": "pw"}),
    "x": ("api_base", {"access_token": "a", "refresh_token": "r", "client_id": "c"}),
    "facebook_page": ("graph_base", {"page_id": "123", "access_token": "fb"}),
    "instagram": ("graph_base", {"ig_user_id": "456", "access_token": "ig"}),
    "linkedin": ("api_base", {"organization_urn": "urn:li:organization:1", "access_token": "li"}),
    "webhook": ("url", {"secret": "whsec"}),
}
REFUSED = [
    "https://169.254.169.254/latest/meta-data",
    "https://127.0.0.1:6379",
    "https://[::1]:6379/",
    "https://[::ffff:127.0.0.1]/",
    "https://10.0.0.8/",
    "https://100.64.0.1/",
    "https://[fd00:ec2::254]/",
    "https://localhost:8080/",
    "https://2130706433/",
    "https://metadata.google.internal/",
    "http://mastodon.example",  # https required
    "https://user:pass@mastodon.example",  # no credentials in the URL
]
HOOK = "https://hooks.example.com/services/T0001/B0002/s3cr3tHOOKpath"


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "Endpoint Co")


@pytest.fixture
def headers(agency):
    return bearer(token_for(owner_of(agency), agency))


def _channels(agency) -> list[Channel]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(Channel).order_by(Channel.name)))


def _audit_count(agency) -> int:
    with tenant_context(agency.id):
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _api(target) -> str:
    return f"/api/v1/clients/{target.id}/channels"


# --- SSRF: endpoints validated at save time --------------------------------------------------


@pytest.mark.parametrize("network", sorted(ENDPOINTS))
def test_every_endpoint_setting_refuses_private_hosts_plain_http_and_credentials(
    client, agency, target, headers, network
):
    key, rest = ENDPOINTS[network]
    for url in REFUSED:
        payload = {"network": network, "name": "N", "settings": {**rest, key: url}}
        response = client.post(_api(target), json=payload, headers=headers)
        assert response.status_code == 422, (url, response.json)
        assert key in response.json["errors"]["json"]["settings"], url
    assert _channels(agency) == [] and _audit_count(agency) == 0


def test_endpoint_errors_say_what_is_wrong(client, agency, target, headers):
    def error(url: str) -> str:
        payload = {"network": "mastodon", "name": "M", "settings": {"instance_url": url}}
        body = client.post(_api(target), json=payload, headers=headers).json
        return body["errors"]["json"]["settings"]["instance_url"][0]

    assert "https://" in error("http://m.example")
    assert "private or local" in error("https://127.0.0.1")
    assert "passwords" in error("https://u:p@m.example")


def test_web_form_refuses_a_metadata_endpoint(client, auth, agency, target):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    response = form_post(
        client,
        f"{base}/new",
        {
            "network": "mastodon",
            "name": "M",
            "settings-instance_url": "https://169.254.169.254",
            "settings-access_token": "t",
        },
        page=f"{base}/new?network=mastodon",
    )
    assert response.status_code == 422
    assert "private or local address" in response.get_data(as_text=True)
    assert _channels(agency) == []


def test_private_hosts_are_accepted_when_the_setting_allows_them(make_app, agency, target):
    app = make_app(allow_private_hosts=True)
    headers = bearer(token_for(owner_of(agency), agency))
    with app.app_context():
        payload = {
            "network": "webhook",
            "name": "Local fake",
            "settings": {"url": "http://127.0.0.1:8080/hook", "secret": "s"},
        }
        response = app.test_client().post(_api(target), json=payload, headers=headers)
    assert response.status_code == 201, response.json
    with app.app_context():
        (channel,) = _channels(agency)
        assert crypto.decrypt_json(channel.credentials_encrypted)["url"] == (
            "http://127.0.0.1:8080/hook"
        )


# --- a new endpoint needs the secret again ---------------------------------------------------


def _snapshot(agency) -> list[tuple]:
    return [(c.name, dict(c.settings), c.credentials_encrypted) for c in _channels(agency)]


@pytest.mark.parametrize("network", sorted(ENDPOINTS))
def test_api_patch_of_an_endpoint_without_the_secret_changes_nothing(
    client, agency, target, headers, network
):
    key, rest = ENDPOINTS[network]
    created = client.post(
        _api(target),
        # Distinct per network: a webhook URL is a secret, and the suite's secret guard would
        # (rightly) flag the same string shown as another network's public endpoint.
        json={
            "network": network,
            "name": "Acct",
            "settings": {**rest, key: f"https://{network}.a.example"},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    url = f"{_api(target)}/{created.json['id']}"
    before, audits = _snapshot(agency), _audit_count(agency)
    secret_names = [s.name for s in service.specs_for(network) if s.secret and s.name != key]
    moved = {key: f"https://attacker.example/{network}"}
    response = client.patch(url, json={"name": "Renamed", "settings": moved}, headers=headers)
    assert response.status_code == 422, response.json
    assert set(response.json["errors"]["json"]["settings"]) == set(secret_names)
    assert _snapshot(agency) == before and _audit_count(agency) == audits
    # With every secret entered again, the endpoint changes.
    again = {name: f"new-{name}" for name in secret_names}
    ok = client.patch(url, json={"settings": {**moved, **again}}, headers=headers)
    assert ok.status_code == 200, ok.json
    (channel,) = _channels(agency)
    stored = {**channel.settings, **crypto.decrypt_json(channel.credentials_encrypted)}
    assert stored[key] == f"https://attacker.example/{network}"
    assert all(stored[name] == value for name, value in again.items())


def test_x_needs_both_tokens_again_when_its_api_base_moves(client, agency, target, headers):
    key, rest = ENDPOINTS["x"]
    created = client.post(
        _api(target), json={"network": "x", "name": "X", "settings": rest}, headers=headers
    )
    url = f"{_api(target)}/{created.json['id']}"
    half = {"api_base": "https://x.example", "access_token": "new-a"}
    response = client.patch(url, json={"settings": half}, headers=headers)
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]["settings"]) == {"refresh_token"}
    assert crypto.decrypt_json(_channels(agency)[0].credentials_encrypted)["access_token"] == "a"


def test_same_endpoint_with_blank_secrets_keeps_them(client, agency, target, headers):
    channel = make_channel(agency, target)  # instance_url https://mastodon.example
    url = f"{_api(target)}/{channel.id}"
    same = {"instance_url": "https://mastodon.example/", "access_token": ""}
    response = client.patch(url, json={"name": "Same place", "settings": same}, headers=headers)
    assert response.status_code == 200, response.json
    (stored,) = _channels(agency)
    assert stored.name == "Same place"
    assert crypto.decrypt_json(stored.credentials_encrypted) == {"access_token": "factory-token"}


def test_web_edit_of_an_endpoint_needs_the_secret_again(client, auth, agency, target):
    channel = make_channel(agency, target)
    auth.login(owner_of(agency).email)
    edit = f"/a/{agency.slug}/clients/{target.id}/channels/{channel.id}/edit"
    before = _snapshot(agency)
    form = {"name": "Moved", "settings-instance_url": "https://evil.example"}
    refused = form_post(client, edit, {**form, "settings-access_token": ""})
    assert refused.status_code == 422
    assert "enter this secret again" in refused.get_data(as_text=True)
    assert _snapshot(agency) == before
    accepted = form_post(client, edit, {**form, "settings-access_token": "fresh"})
    assert accepted.status_code == 302
    (stored,) = _channels(agency)
    assert stored.settings["instance_url"] == "https://evil.example"
    assert crypto.decrypt_json(stored.credentials_encrypted) == {"access_token": "fresh"}


# --- webhook URL is a secret ------------------------------------------------------------------


def test_webhook_url_is_encrypted_masked_and_never_returned(client, auth, agency, target, headers):
    payload = {"network": "webhook", "name": "Hook", "settings": {"url": HOOK, "secret": "whs"}}
    created = client.post(_api(target), json=payload, headers=headers)
    assert created.status_code == 201
    assert HOOK not in created.get_data(as_text=True)
    assert created.json["settings"] == {} and "url" in created.json["credential_fields"]
    (channel,) = _channels(agency)
    assert "url" not in channel.settings
    assert crypto.decrypt_json(channel.credentials_encrypted) == {"url": HOOK, "secret": "whs"}
    assert service.connection_settings(channel) == {"url": HOOK, "secret": "whs"}
    auth.login(owner_of(agency).email)
    edit = f"/a/{agency.slug}/clients/{target.id}/channels/{channel.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert "https://hooks.example.com/…" in page and "s3cr3tHOOKpath" not in page
    # Blank keeps the URL; a new URL needs the signing secret again.
    kept = form_post(client, edit, {"name": "Hook 2", "settings-url": "", "settings-secret": ""})
    assert kept.status_code == 302
    assert crypto.decrypt_json(_channels(agency)[0].credentials_encrypted)["url"] == HOOK
    moved = {"name": "Hook 2", "settings-url": "https://evil.example/h", "settings-secret": ""}
    refused = form_post(client, edit, moved)
    assert refused.status_code == 422
    assert "evil.example" not in refused.get_data(as_text=True)  # not echoed back either
    assert crypto.decrypt_json(_channels(agency)[0].credentials_encrypted)["url"] == HOOK


def test_the_edit_page_decrypts_nothing_for_a_network_without_secret_urls(
    client, auth, agency, target, monkeypatch
):
    # Only webhook URLs are shown masked; a Mastodon token is never decrypted to render the
    # page (mutation run: masked_secrets 3).
    channel = make_channel(agency, target)  # mastodon, access_token stored encrypted
    decrypted = []
    monkeypatch.setattr(service.crypto, "decrypt_json", lambda token: decrypted.append(token))
    auth.login(owner_of(agency).email)

    page = client.get(f"/a/{agency.slug}/clients/{target.id}/channels/{channel.id}/edit")

    assert page.status_code == 200
    assert "stored — leave blank to keep" in page.get_data(as_text=True)
    assert decrypted == []


# --- channel names unique per client ----------------------------------------------------------


def test_channel_names_are_unique_per_client_ignoring_case_and_spaces(
    client, agency, target, headers
):
    manual = {"network": "manual", "settings": {}}
    first = client.post(_api(target), json={**manual, "name": "Forum"}, headers=headers)
    assert first.status_code == 201
    for name in ("Forum", "  forum ", "FORUM"):
        response = client.post(_api(target), json={**manual, "name": name}, headers=headers)
        assert response.status_code == 422, name
        assert "already has a channel" in response.json["errors"]["json"]["name"][0]
    other = make_client(agency, "Other Co")
    elsewhere = client.post(_api(other), json={**manual, "name": "forum"}, headers=headers)
    assert elsewhere.status_code == 201
    second = client.post(_api(target), json={**manual, "name": "Blog"}, headers=headers).json
    url = f"{_api(target)}/{second['id']}"
    clash = client.patch(url, json={"name": "FORUM "}, headers=headers)
    assert clash.status_code == 422 and "name" in clash.json["errors"]["json"]
    assert client.patch(url, json={"name": "BLOG"}, headers=headers).json["name"] == "BLOG"
    assert sorted(c.name for c in _channels(agency)) == ["BLOG", "Forum", "forum"]


def test_web_duplicate_channel_name_is_a_field_error(client, auth, agency, target):
    make_channel(agency, target, network="manual", name="Newsletter", settings={}, secrets={})
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    response = form_post(
        client,
        f"{base}/new",
        {"network": "manual", "name": "newsletter"},
        page=f"{base}/new?network=manual",
    )
    assert response.status_code == 422
    assert "already has a channel with this name" in response.get_data(as_text=True)
    assert len(_channels(agency)) == 1


def test_the_database_refuses_a_duplicate_name_too(client, agency, target, headers, monkeypatch):
    make_channel(agency, target, network="manual", name="Shop", settings={}, secrets={})
    url, target_id = _api(target), target.id  # the failed commit below expires every object
    with tenant_context(agency.id), pytest.raises(IntegrityError):
        db.session.add(Channel(client_id=target_id, network="manual", name="SHOP", settings={}))
        db.session.commit()
    db.session.rollback()
    # Two requests racing past the check: the loser gets the field error, not a 500.
    monkeypatch.setattr(names, "check_name_free", lambda *a, **k: None)
    payload = {"network": "manual", "name": "shop", "settings": {}}
    response = client.post(url, json=payload, headers=headers)
    assert response.status_code == 422, response.json
    assert "name" in response.json["errors"]["json"]
    assert len(_channels(agency)) == 1


def test_a_rename_and_status_change_racing_to_a_taken_name_is_a_field_error(
    client, agency, target, headers, monkeypatch
):
    # The status change must not commit on its own: the one commit turns the index's
    # refusal into the field error (mutation run: set_channel_status 16).
    make_channel(agency, target, network="manual", name="Shop", settings={}, secrets={})
    blog = make_channel(agency, target, network="manual", name="Blog", settings={}, secrets={})
    monkeypatch.setattr(names, "check_name_free", lambda *a, **k: None)

    url = f"{_api(target)}/{blog.id}"
    response = client.patch(url, json={"name": "SHOP", "status": "disabled"}, headers=headers)

    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"] == {
        "name": ["This client already has a channel with this name."]
    }
    assert sorted((c.name, c.status) for c in _channels(agency)) == [
        ("Blog", "connected"),
        ("Shop", "connected"),
    ]


# --- localized add titles ---------------------------------------------------------------------

IT = {"Accept-Language": "it-IT,it;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.mark.parametrize(
    ("network", "english", "italian"),
    [
        ("manual", "Add a manual channel", "Aggiungi un canale manuale"),
        ("mastodon", "Add a Mastodon channel", "Aggiungi un canale Mastodon"),
        ("webhook", "Add a webhook channel", "Aggiungi un canale webhook"),
        ("facebook_page", "Add a Facebook Page", "Aggiungi una Pagina Facebook"),
    ],
)
def test_add_channel_title_is_a_whole_localized_sentence(
    client, auth, agency, target, network, english, italian
):
    auth.login(owner_of(agency).email)
    page = f"/a/{agency.slug}/clients/{target.id}/channels/new?network={network}"
    en = client.get(page, headers=EN).get_data(as_text=True)
    it = client.get(page, headers=IT).get_data(as_text=True)
    assert f'<h1 class="h3 mb-3">{english}</h1>' in en
    assert f'<h1 class="h3 mb-3">{italian}</h1>' in it
    assert "Aggiungi un canale Manual<" not in it
    chooser = client.get(page.split("?")[0], headers=IT).get_data(as_text=True)
    assert ">Manuale</a>" in chooser and ">Pagina Facebook</a>" in chooser
