"""Channel credentials never leave the database in clear: pages, API, audit rows, logs."""

from __future__ import annotations

import logging

from sqlalchemy import select, text

from agency import crypto
from agency.audit import AuditEvent
from agency.channels.models import Channel
from agency.db import db
from tenants.context import tenant_context
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

WEB_SECRET = "s3cr3t-WEB-token-7f1c9a"
API_SECRET = "s3cr3t-API-password-42be"
API_REFRESH = "s3cr3t-API-refresh-0d0d"


def test_channel_secrets_never_leak(client, auth, database_url, caplog):
    caplog.set_level(logging.DEBUG)
    agency = make_agency()
    target = make_client(agency, "Secretive Co")
    owner = owner_of(agency)
    headers = bearer(token_for(owner, agency))
    secrets = (WEB_SECRET, API_SECRET, API_REFRESH)

    auth.login(owner.email)
    base = f"/a/{agency.slug}/clients/{target.id}"
    added = form_post(
        client,
        f"{base}/channels/new",
        {"network": "mastodon", "name": "Web toots",
         "settings-instance_url": "https://m.example", "settings-access_token": WEB_SECRET},
        page=f"{base}/channels/new?network=mastodon",
    )  # fmt: skip
    assert added.status_code == 302
    api_bsky = client.post(
        f"/api/v1/clients/{target.id}/channels",
        json={
            "network": "bluesky",
            "name": "Sky",
            "settings": {"handle": "s.bsky.social", "app_password": API_SECRET},
        },  # noqa: E501
        headers=headers,
    )
    api_x = client.post(
        f"/api/v1/clients/{target.id}/channels",
        json={
            "network": "x",
            "name": "X",
            "settings": {
                "access_token": API_SECRET,
                "refresh_token": API_REFRESH,
                "client_id": "c",
            },
        },  # noqa: E501
        headers=headers,
    )
    assert api_bsky.status_code == 201 and api_x.status_code == 201
    # A failed submit must not echo the secret back either.
    failed = form_post(
        client,
        f"{base}/channels/new",
        {
            "network": "mastodon",
            "name": "",
            "settings-instance_url": "bad",
            "settings-access_token": WEB_SECRET,
        },  # noqa: E501
        page=f"{base}/channels/new?network=mastodon",
    )
    assert failed.status_code == 422
    # An edit keeping the secret (blank) and one changing only the name.
    with tenant_context(agency.id):
        channels = list(db.session.scalars(select(Channel).order_by(Channel.name)))
    web_channel = next(c for c in channels if c.network == "mastodon")
    form_post(
        client,
        f"{base}/channels/{web_channel.id}/edit",
        {
            "name": "Web toots 2",
            "settings-instance_url": "https://m.example",
            "settings-access_token": "",
        },  # noqa: E501
    )
    client.patch(
        f"/api/v1/clients/{target.id}/channels/{api_x.json['id']}",
        json={"name": "X 2"},
        headers=headers,
    )

    bodies = [added.get_data(as_text=True), failed.get_data(as_text=True)]
    bodies += [r.get_data(as_text=True) for r in (api_bsky, api_x)]
    pages = [
        f"{base}",
        f"{base}/channels/",
        f"/a/{agency.slug}/clients/",
        f"{base}/approval-policy",
        *(f"{base}/channels/{c.id}/edit" for c in channels),
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        bodies.append(response.get_data(as_text=True))
    api_paths = [
        "/api/v1/clients",
        f"/api/v1/clients/{target.id}",
        f"/api/v1/clients/{target.id}/channels",
        *(f"/api/v1/clients/{target.id}/channels/{c.id}" for c in channels),
        "/api/v1/openapi.json",
    ]
    for path in api_paths:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        bodies.append(response.get_data(as_text=True))
    listed = client.get(f"/api/v1/clients/{target.id}/channels", headers=headers).json["items"]
    assert {tuple(sorted(c["credential_fields"])) for c in listed} == {
        ("access_token",),
        ("app_password",),
        ("access_token", "refresh_token"),
    }
    with tenant_context(agency.id):
        audit_rows = [repr((e.action, e.data)) for e in db.session.scalars(select(AuditEvent))]
    assert len(audit_rows) >= 5
    logs = [record.getMessage() + repr(record.args) for record in caplog.records]
    haystacks = bodies + audit_rows + logs + [caplog.text]
    for secret in secrets:
        for haystack in haystacks:
            assert secret not in haystack

    # At rest: only ciphertext in the column, and it decrypts to the secrets given.
    with tenant_context(agency.id):
        raw = db.session.execute(
            text("SELECT network, CAST(settings AS TEXT), credentials_encrypted FROM channels")
        ).all()
    by_network = {network: (settings, cipher) for network, settings, cipher in raw}
    for settings, cipher in by_network.values():
        for secret in secrets:
            assert secret not in settings and secret not in cipher
    assert crypto.decrypt_json(by_network["mastodon"][1]) == {"access_token": WEB_SECRET}
    assert crypto.decrypt_json(by_network["bluesky"][1]) == {"app_password": API_SECRET}
    assert crypto.decrypt_json(by_network["x"][1]) == {
        "access_token": API_SECRET,
        "refresh_token": API_REFRESH,
    }


HOOK_WEB = "https://hooks.example.com/services/T0WEB/B0WEB/webHOOKsecretPATH"
HOOK_API = "https://discord.example.net/api/webhooks/42/apiHOOKsecretPATH"
HOOK_PATHS = ("webHOOKsecretPATH", "apiHOOKsecretPATH")


def test_webhook_urls_never_leak(client, auth, database_url, caplog):
    """A webhook URL is a credential: encrypted at rest, never returned by the API, shown only
    masked (host only) to the managers editing it, and not at all to finance or client users."""
    from tenants.models import Role
    from tests.factories import make_member

    caplog.set_level(logging.DEBUG)
    agency = make_agency()
    target = make_client(agency, "Hooked Co")
    owner = owner_of(agency)
    finance = make_member(agency, Role.FINANCE)
    client_manager = make_member(agency, Role.CLIENT_MANAGER, client=target)
    viewer = make_member(agency, Role.CLIENT_VIEWER, client=target)
    base = f"/a/{agency.slug}/clients/{target.id}"
    api = f"/api/v1/clients/{target.id}/channels"

    auth.login(owner.email)
    added = form_post(
        client,
        f"{base}/channels/new",
        {"network": "webhook", "name": "Slack", "settings-url": HOOK_WEB, "settings-secret": "w1"},
        page=f"{base}/channels/new?network=webhook",
    )
    assert added.status_code == 302
    failed = form_post(  # a failed submit does not echo the URL back
        client,
        f"{base}/channels/new",
        {"network": "webhook", "name": "", "settings-url": HOOK_WEB, "settings-secret": "w1"},
        page=f"{base}/channels/new?network=webhook",
    )
    assert failed.status_code == 422
    owner_headers = bearer(token_for(owner, agency))
    created = client.post(
        api,
        json={
            "network": "webhook",
            "name": "Discord",
            "settings": {"url": HOOK_API, "secret": "a"},
        },
        headers=owner_headers,
    )
    assert created.status_code == 201
    with tenant_context(agency.id):
        channels = list(db.session.scalars(select(Channel).order_by(Channel.name)))
    assert len(channels) == 2
    bodies = [added.get_data(as_text=True), failed.get_data(as_text=True)]
    bodies.append(created.get_data(as_text=True))
    edit_pages = [client.get(f"{base}/channels/{c.id}/edit") for c in channels]
    masked = {"https://hooks.example.com/…", "https://discord.example.net/…"}
    for page in edit_pages:
        assert page.status_code == 200
        bodies.append(page.get_data(as_text=True))
    assert all(any(m in body for body in bodies[-2:]) for m in masked)  # managers: masked only
    for path in (base, f"{base}/channels/"):
        bodies.append(client.get(path).get_data(as_text=True))
    for path in (api, *(f"{api}/{c.id}" for c in channels), "/api/v1/openapi.json"):
        response = client.get(path, headers=owner_headers)
        assert response.status_code == 200
        bodies.append(response.get_data(as_text=True))
    auth.logout()

    # Finance and the client's own people: no URL, not even masked.
    outsiders = []
    for user in (finance, client_manager, viewer):
        auth.login(user.email)
        for path in (base, f"{base}/channels/"):
            response = client.get(path)
            if response.status_code == 200:
                outsiders.append(response.get_data(as_text=True))
        headers = bearer(token_for(user, agency))
        for path in (api, *(f"{api}/{c.id}" for c in channels)):
            response = client.get(path, headers=headers)
            if response.status_code == 200:
                outsiders.append(response.get_data(as_text=True))
        auth.logout()
    assert len(outsiders) >= 6  # they could read the client and its channel list
    for body in outsiders:
        assert "hooks.example.com" not in body and "discord.example.net" not in body

    with tenant_context(agency.id):
        audit_rows = [repr((e.action, e.data)) for e in db.session.scalars(select(AuditEvent))]
        raw = db.session.execute(
            text("SELECT settings::text, credentials_encrypted FROM channels")
        ).all()
    logs = [record.getMessage() + repr(record.args) for record in caplog.records]
    for haystack in bodies + outsiders + audit_rows + logs + [caplog.text]:
        for secret in HOOK_PATHS:
            assert secret not in haystack
    for settings, cipher in raw:
        assert "HOOK" not in settings and "HOOK" not in cipher and "hooks" not in settings
    assert {crypto.decrypt_json(cipher)["url"] for _, cipher in raw} == {HOOK_WEB, HOOK_API}
