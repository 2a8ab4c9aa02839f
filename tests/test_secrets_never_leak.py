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
