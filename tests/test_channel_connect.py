"""Connecting channels: credentials verified on save (wrong ones refused with the network's
words, nothing saved), account details and check time stored, networks Regia cannot check
yet never shown as "Connected", labelled and translated settings."""

from __future__ import annotations

import json
import socket
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from agency import outbound
from agency.audit import AuditEvent
from agency.channels import connect
from agency.channels.models import Channel
from agency.db import db
from agency.publishing.connectors.base import CONNECTORS, ErrorClass, Outgoing, PublishError
from agency.publishing.connectors.webhook import WebhookConnector, sign
from tenants.context import tenant_context
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.fakes.base import running
from tests.fakes.mastodon_oauth import LocalMastodon, minimal_mastodon_connector
from tests.fakes.webhook import FakeWebhookReceiver
from tests.helpers import bearer, form_post

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "Connect Co")


@pytest.fixture
def headers(agency):
    return bearer(token_for(owner_of(agency), agency))


@pytest.fixture
def private_hosts(app, monkeypatch):
    """Let channels call the loopback fakes (REGIA_ALLOW_PRIVATE_HOSTS)."""
    monkeypatch.setitem(app.config, "REGIA", replace(app.config["REGIA"], allow_private_hosts=True))


@pytest.fixture
def mastodon(private_hosts, monkeypatch):
    """A loopback Mastodon with one signed-in account; its connector (the real one once
    merged, else a verify-only stand-in)."""
    if "mastodon" not in connect.load_connectors():
        monkeypatch.setitem(CONNECTORS, "mastodon", minimal_mastodon_connector())
    fake = LocalMastodon()
    fake.tokens["good-token"] = fake.account_id
    yield from running(fake)


def _channels(agency) -> list[Channel]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(Channel)))


def _audit_count(agency) -> int:
    with tenant_context(agency.id):
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _api(target) -> str:
    return f"/api/v1/clients/{target.id}/channels"


# --- verification on save ---------------------------------------------------------------------


def test_api_save_verifies_and_stores_the_account(client, agency, target, headers, mastodon):
    body = {
        "network": "mastodon",
        "name": "Toots",
        "settings": {"instance_url": mastodon.url, "access_token": "good-token"},
    }
    response = client.post(_api(target), json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    out = response.get_json()
    assert out["connection"] == "connected"
    assert out["handle"].startswith("@acme@127.0.0.1")
    assert out["display_name"] == "Acme Coffee"
    assert out["verified_at"] and out["checked_at"] and out["check_error"] is None
    calls = mastodon.calls("GET", "/api/v1/accounts/verify_credentials")
    assert [c.header("authorization") for c in calls] == ["Bearer good-token"]
    (channel,) = _channels(agency)
    assert channel.avatar_url.endswith("/avatars/original/missing.png")


def test_api_wrong_token_is_refused_with_the_networks_message_and_nothing_saved(
    client, agency, target, headers, mastodon
):
    before = _audit_count(agency)
    body = {
        "network": "mastodon",
        "name": "Toots",
        "settings": {"instance_url": mastodon.url, "access_token": "made-up-token"},
    }
    response = client.post(_api(target), json=body, headers=headers)
    assert response.status_code == 422
    error = response.get_json()["errors"]["json"]["settings"]["access_token"][0]
    assert "The access token is invalid" in error  # the network's own words
    assert _channels(agency) == [] and _audit_count(agency) == before


def test_web_wrong_token_is_a_form_error_and_nothing_saved(client, auth, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    response = form_post(
        client,
        f"{base}/new",
        {
            "network": "mastodon",
            "name": "Toots",
            "settings-instance_url": mastodon.url,
            "settings-access_token": "made-up-token",
        },
        page=f"{base}/new?network=mastodon",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The network refused these credentials: The access token is invalid" in page
    assert 'aria-invalid="true"' in page
    assert _channels(agency) == []


def test_web_good_token_shows_connected_with_the_check_time(client, auth, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    saved = form_post(
        client,
        f"{base}/new",
        {
            "network": "mastodon",
            "name": "Toots",
            "settings-instance_url": mastodon.url,
            "settings-access_token": "good-token",
        },
        page=f"{base}/new?network=mastodon",
    )
    assert saved.status_code == 302
    listing = client.get(f"{base}/").get_data(as_text=True)
    (channel,) = _channels(agency)
    assert "Connected" in listing and "Not verified" not in listing
    assert f"Checked {channel.verified_at:%Y-%m-%d %H:%M} UTC" in listing
    assert "Acme Coffee" in listing


def test_changing_the_token_to_a_wrong_one_keeps_the_old_one(
    client, agency, target, headers, mastodon
):
    url = _api(target)  # the client row expires when the refused save rolls back
    body = {
        "network": "mastodon",
        "name": "Toots",
        "settings": {"instance_url": mastodon.url, "access_token": "good-token"},
    }
    channel_id = client.post(url, json=body, headers=headers).get_json()["id"]
    patched = client.patch(
        f"{url}/{channel_id}",
        json={"name": "Renamed", "settings": {"access_token": "wrong"}},
        headers=headers,
    )
    assert patched.status_code == 422
    (channel,) = _channels(agency)
    assert channel.name == "Toots"
    assert connect.service.connection_settings(channel)["access_token"] == "good-token"
    renamed = client.patch(f"{url}/{channel_id}", json={"name": "R"}, headers=headers)
    assert renamed.status_code == 200
    # A rename does not call the network again.
    assert len(mastodon.calls("GET", "/api/v1/accounts/verify_credentials")) == 2


def test_an_unreachable_network_is_refused_and_nothing_is_saved(
    client, auth, agency, target, headers, mastodon
):
    mastodon.fail("GET", "/api/v1/accounts/verify_credentials", 503, {"error": "down"})
    body = {
        "network": "mastodon",
        "name": "Toots",
        "settings": {"instance_url": mastodon.url, "access_token": "good-token"},
    }
    response = client.post(_api(target), json=body, headers=headers)
    assert response.status_code == 422
    assert "down" in json.dumps(response.get_json())
    assert _channels(agency) == []


@pytest.fixture
def no_dns(monkeypatch):
    """Every name fails to resolve, as a typo'd server does (no DNS server is asked)."""

    def fail(host, port):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.delenv(outbound.LOOPBACK_ONLY, raising=False)
    monkeypatch.setattr(outbound, "resolve", fail)


def test_a_server_name_that_does_not_resolve_is_a_plain_translated_form_error(
    client, auth, agency, target, headers, mastodon, no_dns
):
    auth.login(owner_of(agency).email)
    with client.session_transaction() as session:
        session["locale"] = "it"
    path = f"/a/{agency.slug}/clients/{target.id}/channels/new"
    fields = {
        "network": "mastodon",
        "name": "Toots typo",
        "settings-instance_url": "https://mastodon.invalid",
        "settings-access_token": "good-token",
    }
    response = form_post(client, path, fields, page=f"{path}?network=mastodon")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Impossibile raggiungere mastodon.invalid" in page
    for leak in ("ConnectError", "Errno", "Name or service", "Could not reach"):
        assert leak not in page
    assert 'value="Toots typo"' in page and 'value="https://mastodon.invalid"' in page
    assert _channels(agency) == []
    with client.session_transaction() as session:
        session["locale"] = "en"
    api = client.post(
        _api(target),
        json={
            "network": "mastodon",
            "name": "T",
            "settings": {"instance_url": "https://mastodon.invalid", "access_token": "good-token"},
        },
        headers=headers,
    )
    assert api.status_code == 422
    assert "Could not reach mastodon.invalid: the server name does not resolve." in json.dumps(
        api.get_json()
    )
    assert "Errno" not in json.dumps(api.get_json())


def test_network_without_connector_is_saved_unverified_never_connected(
    client, auth, agency, target, headers, monkeypatch
):
    connect.load_connectors()
    monkeypatch.delitem(CONNECTORS, "x", raising=False)
    body = {
        "network": "x",
        "name": "Xs",
        "settings": {"access_token": "a", "refresh_token": "r", "client_id": "c"},
    }
    response = client.post(_api(target), json=body, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["connection"] == "unverified"
    assert response.get_json()["verified_at"] is None
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    form = client.get(f"{base}/new?network=x").get_data(as_text=True)
    assert "Regia cannot check X credentials yet" in form
    listing = client.get(f"{base}/").get_data(as_text=True)
    assert "Not verified" in listing and ">Connected<" not in listing
    assert "Regia cannot check this network yet." in listing
    detail = client.get(f"/a/{agency.slug}/clients/{target.id}").get_data(as_text=True)
    assert "Not verified" in detail


# --- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "raw", "label", "label_it"),
    [
        ("mastodon", "instance_url", "Server address", "Indirizzo del server"),
        ("mastodon", "access_token", "Access token", "Token di accesso"),
        ("bluesky", "pds_url", "Hosting provider", "Fornitore di hosting"),
        ("bluesky", "app_password", "App password", "Password per le app"),
        ("webhook", "secret", "Signing secret", "Segreto di firma"),
    ],
)
def test_settings_have_translated_labels_and_help_never_raw_keys(
    client, auth, agency, target, network, raw, label, label_it
):
    auth.login(owner_of(agency).email)
    url = f"/a/{agency.slug}/clients/{target.id}/channels/new?network={network}"
    page = client.get(url).get_data(as_text=True)
    assert f">{label}</label>" in page
    assert f"<code>{raw}</code>" not in page and f">{raw}<" not in page
    assert f'id="settings-{raw}-about"' in page  # help text, tied by aria-describedby
    italian = client.get(url, headers={"Accept-Language": "it"}).get_data(as_text=True)
    assert f">{label_it}</label>" in italian


# --- webhook connector ------------------------------------------------------------------------


def _webhook(url: str, secret: str = SECRET) -> WebhookConnector:
    return WebhookConnector(
        {"url": url, "secret": secret}, outbound.OutboundClient(allow_private=True)
    )


def test_webhook_delivery_is_signed_per_standard_webhooks_and_accepted():
    with FakeWebhookReceiver(SECRET) as receiver:
        published = _webhook(receiver.endpoint).publish(
            Outgoing(target_id="t1", idempotency_key="msg_t1_r1", text="Hello")
        )
        (request,) = receiver.calls("POST", receiver.PATH)
        assert request.header("webhook-id") == "msg_t1_r1"
        assert request.header("webhook-signature").startswith("v1,")
        event = receiver.events["msg_t1_r1"]
        assert event["type"] == "post.published" and event["data"]["text"] == "Hello"
    assert published.external_id == "evt-1" and published.url.endswith("/posts/1")


def test_webhook_signature_matches_the_specs_example():
    # The example of the Standard Webhooks spec (and its reference libraries' tests).
    body = b'{"test": 2432232314}'
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_webhook_with_the_wrong_secret_is_refused_by_the_receiver_as_auth():
    with FakeWebhookReceiver(SECRET) as receiver:
        with pytest.raises(PublishError) as refused:
            _webhook(receiver.endpoint, "whsec_" + "QUJD" * 8).publish(
                Outgoing(target_id="t1", idempotency_key="msg_x", text="Hi")
            )
        assert receiver.events == {}
    assert refused.value.error_class is ErrorClass.AUTH_EXPIRED
    assert "401" in refused.value.message


def test_webhook_redelivery_after_a_dropped_answer_is_one_event():
    with FakeWebhookReceiver(SECRET) as receiver:
        hook = _webhook(receiver.endpoint)
        outgoing = Outgoing(target_id="t1", idempotency_key="msg_drop", text="Once")
        receiver.drop_after_commit("POST", receiver.PATH)
        with pytest.raises(PublishError) as lost:
            hook.publish(outgoing)
        assert lost.value.error_class is ErrorClass.UNKNOWN_OUTCOME
        found = hook.find_existing(outgoing)
        assert found is not None and found.external_id == "evt-1"
        assert list(receiver.events) == ["msg_drop"]
        assert len(receiver.calls("POST", receiver.PATH)) == 2


def test_webhook_429_is_retryable_with_the_reset_hint():
    with FakeWebhookReceiver(SECRET) as receiver:
        receiver.fail("POST", receiver.PATH, 429, {"error": "slow"}, {"Retry-After": "7"})
        with pytest.raises(PublishError) as limited:
            _webhook(receiver.endpoint).publish(
                Outgoing(target_id="t", idempotency_key="m", text="x")
            )
    assert limited.value.error_class is ErrorClass.RETRYABLE
    assert limited.value.retry_after == 7.0


def test_webhook_channel_saved_through_the_api_is_verified(client, target, headers, private_hosts):
    body = {
        "network": "webhook",
        "name": "Hook",
        "settings": {"url": "https://hooks.example/in", "secret": SECRET},
    }
    response = client.post(_api(target), json=body, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["connection"] == "connected"
    assert response.get_json()["handle"] is None  # the URL is a secret: not even its host
    assert json.dumps(response.get_json()).count(SECRET) == 0


def test_receiver_refuses_a_stale_timestamp():
    with FakeWebhookReceiver(SECRET) as receiver:
        body = b"{}"
        headers = {
            "webhook-id": "m",
            "webhook-timestamp": "1000",
            "webhook-signature": sign(SECRET, "m", 1000, body),
        }
        response = httpx.post(receiver.endpoint, content=body, headers=headers)
    assert response.status_code == 401 and "tolerance" in response.text
