"""Channel credentials never leave the database in clear: pages, API, errors, audit, logs.

``tests/secret_guard.py`` scans every response, e-mail and log record of the whole suite for
every secret ever stored; these tests store a secret for every network that takes one,
through the web and the API, then walk every page and answer that could show it (including
the PATCH answer and a 422 that echoes the form), so the guard has something to catch.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, text

from agency import crypto
from agency.audit import AuditEvent
from agency.channels.models import Channel
from agency.channels.service import NETWORK_SETTINGS
from agency.db import db
from tenants.context import tenant_context
from tests import secret_guard
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

# Saving a channel would ask its network, which the suite cannot reach.
pytestmark = pytest.mark.usefixtures("networks_not_checked")

# Public settings that make each network valid; secrets are added per network below.


PUBLIC = {
    "mastodon": {"instance_url": "https://m.example"},
    "bluesky": {"handle": "s.bsky.social"},
    "x": {"client_id": "client-x"},
    "facebook_page": {"page_id": "1234"},
    "instagram": {"ig_user_id": "5678"},
    "linkedin": {"organization_urn": "urn:li:organization:42"},
    "webhook": {},  # the webhook URL is itself a secret (a credential in its path)
}


def _secret_fields() -> dict[str, list[str]]:
    return {
        str(network): [spec.name for spec in specs if spec.secret]
        for network, specs in NETWORK_SETTINGS.items()
        if any(spec.secret for spec in specs)
    }


def _secret(via: str, network: str, field: str) -> str:
    secret = f"s3cr3t-{via}-{network}-{field}-7f1c9a"
    return f"https://hooks.example.com/{secret}" if field == "url" else secret


def test_every_network_that_takes_secrets_is_covered():
    assert set(_secret_fields()) == set(PUBLIC)


def test_channel_secrets_never_leak(client, auth, database_url):
    agency = make_agency()
    target = make_client(agency, "Secretive Co")
    owner = owner_of(agency)
    headers = bearer(token_for(owner, agency))
    base = f"/a/{agency.slug}/clients/{target.id}"
    auth.login(owner.email)
    stored: dict[str, dict[str, str]] = {}
    for network, fields in _secret_fields().items():
        api_secrets = {f: _secret("api", network, f) for f in fields}
        created = client.post(
            f"/api/v1/clients/{target.id}/channels",
            json={"network": network, "name": f"API {network}", "settings": {
                **PUBLIC[network], **api_secrets}},
            headers=headers,
        )  # fmt: skip
        assert created.status_code == 201, (network, created.get_json())
        stored[created.json["id"]] = api_secrets
        web_secrets = {f: _secret("web", network, f) for f in fields}
        form = {f"settings-{k}": v for k, v in {**PUBLIC[network], **web_secrets}.items()}
        page = f"{base}/channels/new?network={network}"
        added = form_post(
            client, f"{base}/channels/new",
            {"network": network, "name": f"Web {network}", **form}, page=page,
        )  # fmt: skip
        assert added.status_code == 302, network
        # A refused submit (no name) re-renders the form: the secret must not come back.
        failed = form_post(
            client, f"{base}/channels/new", {"network": network, "name": "", **form}, page=page
        )
        assert failed.status_code == 422
        refused = client.post(
            f"/api/v1/clients/{target.id}/channels",
            json={"network": network, "name": "", "settings": {**PUBLIC[network], **api_secrets}},
            headers=headers,
        )
        assert refused.status_code == 422
    assert {s for secrets in stored.values() for s in secrets.values()} <= (
        secret_guard.known_secrets()
    ), "the guard learned every stored secret"

    with tenant_context(agency.id):
        channels = [
            (c.id, c.name, c.network)
            for c in db.session.scalars(select(Channel).order_by(Channel.name))
        ]
    assert len(channels) == 2 * len(PUBLIC)
    for channel_id, name, network in channels:
        url = f"/api/v1/clients/{target.id}/channels/{channel_id}"
        # PATCH answers (name only; then a refused one) are scanned by the guard too.
        renamed = client.patch(url, json={"name": f"{name} 2"}, headers=headers)
        assert renamed.status_code == 200
        assert sorted(renamed.json["credential_fields"]) == sorted(_secret_fields()[network])
        bad = client.patch(url, json={"settings": {"nope": 1}}, headers=headers)
        assert bad.status_code == 422
        assert client.get(url, headers=headers).status_code == 200
        edit = f"{base}/channels/{channel_id}/edit"
        assert client.get(edit).status_code == 200
        kept = {f"settings-{k}": "" for k in _secret_fields()[network]}
        public = {f"settings-{k}": v for k, v in PUBLIC[network].items()}
        saved = form_post(client, edit, {"name": f"{name} 3", **public, **kept})
        assert saved.status_code == 302, network
    for path in (
        base,
        f"{base}/channels/",
        f"/a/{agency.slug}/clients/",
        f"{base}/approval-policy",
    ):
        assert client.get(path).status_code == 200, path
    for path in ("/api/v1/clients", f"/api/v1/clients/{target.id}/channels"):
        assert client.get(path, headers=headers).status_code == 200, path

    with tenant_context(agency.id):
        audit_rows = [repr((e.action, e.data)) for e in db.session.scalars(select(AuditEvent))]
        raw = db.session.execute(
            text("SELECT id, CAST(settings AS TEXT), credentials_encrypted FROM channels")
        ).all()
    assert len(audit_rows) >= len(channels)
    for secrets in stored.values():
        for secret in secrets.values():
            assert not any(secret in row for row in audit_rows)
    # At rest: only ciphertext, which decrypts to the secrets given (kept on blank edits).
    for channel_id, settings, cipher in raw:
        for secrets in stored.values():
            assert not any(s in settings or s in cipher for s in secrets.values())
        if str(channel_id) in stored:
            assert crypto.decrypt_json(cipher) == stored[str(channel_id)]


def test_the_guard_catches_a_secret_in_a_response(app, database_url):
    """The guard itself: a response that shows a stored secret is reported."""
    secret_guard.learn({"access_token": "guard-self-test-secret-0042"})
    found = secret_guard.scan("a planted page", "<p>guard-self-test-secret-0042</p>")
    assert found == ["guard-self-test-secret-0042"]
    secret_guard._leaks.clear()  # this test planted it on purpose


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
            text("SELECT CAST(settings AS TEXT), credentials_encrypted FROM channels")
        ).all()
    logs = [record.getMessage() + repr(record.args) for record in caplog.records]
    for haystack in bodies + outsiders + audit_rows + logs + [caplog.text]:
        for secret in HOOK_PATHS:
            assert secret not in haystack
    for settings, cipher in raw:
        assert "HOOK" not in settings and "HOOK" not in cipher and "hooks" not in settings
    assert {crypto.decrypt_json(cipher)["url"] for _, cipher in raw} == {HOOK_WEB, HOOK_API}
