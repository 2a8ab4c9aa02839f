"""Channel credentials never leave the database in clear: pages, API, errors, audit, logs.

``tests/secret_guard.py`` scans every response, e-mail and log record of the whole suite for
every secret ever stored; these tests store a secret for every network that takes one,
through the web and the API, then walk every page and answer that could show it (including
the PATCH answer and a 422 that echoes the form), so the guard has something to catch.
"""

from __future__ import annotations

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

# Public settings that make each network valid; secrets are added per network below.
PUBLIC = {
    "mastodon": {"instance_url": "https://m.example"},
    "bluesky": {"handle": "s.bsky.social"},
    "x": {"client_id": "client-x"},
    "facebook_page": {"page_id": "1234"},
    "instagram": {"ig_user_id": "5678"},
    "linkedin": {"organization_urn": "urn:li:organization:42"},
    "webhook": {"url": "https://hooks.example/in"},
}


def _secret_fields() -> dict[str, list[str]]:
    return {
        str(network): [spec.name for spec in specs if spec.secret]
        for network, specs in NETWORK_SETTINGS.items()
        if any(spec.secret for spec in specs)
    }


def _secret(via: str, network: str, field: str) -> str:
    return f"s3cr3t-{via}-{network}-{field}-7f1c9a"


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
            text("SELECT id, settings::text, credentials_encrypted FROM channels")
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
