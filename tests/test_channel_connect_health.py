"""The periodic health check: a revoked token marks the channel needs_reconnect (settings and
secrets kept) and e-mails the agency; a network that cannot be reached changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from agency.channels import connect, jobs
from agency.channels.models import Channel, ChannelStatus
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Role
from tests import test_channel_connect as connect_tests
from tests.factories import make_agency, make_channel, make_client, make_member, owner_of

# The loopback Mastodon and REGIA_ALLOW_PRIVATE_HOSTS fixtures, shared with that module.
mastodon = connect_tests.mastodon
private_hosts = connect_tests.private_hosts


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "Health Co")


def _channel(agency, mastodon, token: str = "good-token", status: str = "connected") -> Channel:
    return make_channel(
        agency,
        _client(agency),
        settings={"instance_url": mastodon.url},
        secrets={"access_token": token},
        status=status,
    )


def _client(agency):
    with tenant_context(agency.id):
        from tenants.models import ClientCompany

        return db.session.scalars(select(ClientCompany)).first()


def _reload(agency, channel_id) -> Channel:
    with tenant_context(agency.id):
        db.session.expire_all()
        return db.session.scalar(select(Channel).where(Channel.id == channel_id))


def test_revoked_token_marks_needs_reconnect_and_keeps_the_settings(
    app, smtp, agency, target, mastodon, monkeypatch
):
    settings = replace(smtp.app.config["REGIA"], allow_private_hosts=True)
    monkeypatch.setitem(smtp.app.config, "REGIA", settings)
    manager = make_member(agency, Role.MANAGER)
    make_member(agency, Role.STAFF, assigned=[target])
    owner_email = owner_of(agency).email
    channel_id = _channel(agency, mastodon).id
    mastodon.revoke("good-token")
    report = jobs.check_channels(str(agency.id))
    assert report["needs_reconnect"] == 1 and report["verified"] == 0
    checked = _reload(agency, channel_id)
    assert checked.status == ChannelStatus.NEEDS_RECONNECT.value
    assert checked.verified_at is None and "The access token is invalid" in checked.check_error
    assert checked.settings == {"instance_url": mastodon.url}
    assert connect.service.connection_settings(checked)["access_token"] == "good-token"
    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == sorted([owner_email, manager.email])  # not staff
    mail = smtp.messages[0]
    assert mail["Subject"] == "A channel needs reconnecting"
    assert "The access token is invalid" in mail.get_body(("plain",)).get_content()
    # Already broken: the next run does not check or e-mail again.
    assert jobs.check_channels(str(agency.id)) == {
        "verified": 0,
        "needs_reconnect": 0,
        "unreachable": 0,
        "skipped": 0,
    }
    assert len(smtp.messages) == 2


def test_a_deactivated_account_is_not_told_a_channel_broke(
    app, smtp, agency, target, mastodon, monkeypatch
):
    settings = replace(smtp.app.config["REGIA"], allow_private_hosts=True)
    monkeypatch.setitem(smtp.app.config, "REGIA", settings)
    gone = make_member(agency, Role.MANAGER)
    gone.active = False  # the account is closed; its membership row is still active
    db.session.commit()
    _channel(agency, mastodon)
    mastodon.revoke("good-token")
    assert jobs.check_channels(str(agency.id))["needs_reconnect"] == 1
    assert [m["To"] for m in smtp.messages] == [owner_of(agency).email]
    from agency.notifications.models import Notification

    with tenant_context(agency.id):
        told = set(db.session.scalars(select(Notification.user_id)))
    assert told == {owner_of(agency).id}


def test_a_working_token_is_stamped_verified(app, agency, target, mastodon):
    channel_id = _channel(agency, mastodon).id
    assert jobs.check_channels(str(agency.id))["verified"] == 1
    checked = _reload(agency, channel_id)
    assert checked.status == "connected" and checked.verified_at is not None
    assert checked.handle.startswith("@acme@")


def test_an_unreachable_network_is_not_a_disconnect(app, agency, target, mastodon):
    channel_id = _channel(agency, mastodon).id
    mastodon.fail("GET", "/api/v1/accounts/verify_credentials", 502, {"error": "Bad gateway"})
    report = jobs.check_channels(str(agency.id))
    assert report["unreachable"] == 1
    checked = _reload(agency, channel_id)
    assert checked.status == "connected" and "Bad gateway" in checked.check_error


def test_disabled_channels_and_other_agencies_are_not_checked(app, agency, target, mastodon):
    _channel(agency, mastodon, status="disabled")
    other = make_agency("Other Agency")
    make_client(other, "Theirs")
    make_channel(
        other,
        _client(other),
        settings={"instance_url": mastodon.url},
        secrets={"access_token": "good-token"},
    )
    assert jobs.check_channels(str(agency.id))["verified"] == 0
    assert mastodon.calls("GET", "/api/v1/accounts/verify_credentials") == []


def test_every_agency_gets_its_own_check(app, agency, target, mastodon):
    _channel(agency, mastodon)
    other = make_agency("Second Agency")
    make_client(other, "Theirs")
    make_channel(
        other,
        _client(other),
        settings={"instance_url": mastodon.url},
        secrets={"access_token": "good-token"},
    )
    assert jobs.check_every_agency(None) == 2  # RQ_SYNC: each agency's job runs at once
    assert len(mastodon.calls("GET", "/api/v1/accounts/verify_credentials")) == 2


def test_reconnecting_with_a_new_token_clears_needs_reconnect(
    client, app, agency, target, mastodon
):
    from tests.factories import token_for
    from tests.helpers import bearer

    channel_id = _channel(agency, mastodon, token="old", status="needs_reconnect").id
    mastodon.tokens["reconnected-mastodon-token-5e1"] = mastodon.account_id
    url = f"/api/v1/clients/{target.id}/channels/{channel_id}"
    headers = bearer(token_for(owner_of(agency), agency))
    response = client.patch(
        url, json={"settings": {"access_token": "reconnected-mastodon-token-5e1"}}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["connection"] == "connected"


def test_a_broken_channel_is_not_enabled_again_while_the_network_refuses_it(
    client, app, agency, target, mastodon
):
    from tests.factories import token_for
    from tests.helpers import bearer

    channel_id = _channel(agency, mastodon, token="revoked", status="needs_reconnect").id
    url = f"/api/v1/clients/{target.id}/channels/{channel_id}"
    headers = bearer(token_for(owner_of(agency), agency))
    refused = client.patch(url, json={"status": "connected"}, headers=headers)
    assert refused.status_code == 422
    assert _reload(agency, channel_id).status == "needs_reconnect"
    mastodon.tokens["revoked"] = mastodon.account_id  # the owner re-authorized the app
    assert client.patch(url, json={"status": "connected"}, headers=headers).status_code == 200
    assert _reload(agency, channel_id).status == "connected"


@pytest.mark.parametrize(
    ("locale", "reason"),
    [("it", "Impossibile raggiungere 127.0.0.1"), ("en", "Could not reach 127.0.0.1")],
)
def test_the_stored_reason_is_in_the_agencys_language(
    app, agency, target, private_hosts, locale, reason
):
    """The check runs in a job (no request, no reader): the reason it stores is read later by
    the agency's people, so it is written in the agency's language."""
    import socket

    from tenants.models import Agency

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with tenant_context(agency.id):
        db.session.get(Agency, agency.id).default_locale = locale
        db.session.commit()
    channel_id = make_channel(
        agency,
        _client(agency),
        settings={"instance_url": f"http://127.0.0.1:{closed}"},
        secrets={"access_token": "good-token"},
    ).id
    assert jobs.check_channels(str(agency.id))["unreachable"] == 1
    checked = _reload(agency, channel_id)
    assert checked.status == "connected"  # unreachable is no verdict on the credentials
    assert checked.check_error.startswith(reason), checked.check_error


def _edit(client, agency, mastodon, channel_id, token: str, name: str = "Toots"):  # noqa: ANN202
    from tests.helpers import form_post

    url = f"/a/{agency.slug}/clients/{_client(agency).id}/channels/{channel_id}/edit"
    return form_post(
        client, url,
        {
            "name": name, "handle": "", "settings-instance_url": mastodon.url,
            "settings-access_token": token,
        },
    )  # fmt: skip


def _broken(agency, mastodon, token: str) -> Channel:
    channel = _channel(agency, mastodon, token=token, status="needs_reconnect")
    with tenant_context(agency.id):
        from agency.db import utcnow

        row = db.session.scalar(select(Channel).where(Channel.id == channel.id))
        # Verified once, then refused (still stamped verified: what the publishing engine left).
        row.check_error, row.checked_at = "The access token is invalid", utcnow()
        row.verified_at = utcnow()
        db.session.commit()
    return channel


def test_pasting_the_restored_token_again_reconnects_the_channel(
    client, app, agency, target, mastodon
):
    from tests.world import sign_in

    channel_id = _broken(agency, mastodon, "restored-token").id
    sign_in(client, owner_of(agency))
    page = client.get(f"/a/{agency.slug}/clients/{target.id}/channels/{channel_id}/edit").get_data(
        as_text=True
    )
    assert 'id="needs-reconnect"' in page and "The access token is invalid" in page
    assert f"connect/mastodon?channel={channel_id}" in page
    mastodon.tokens["restored-token"] = mastodon.account_id  # restored on the network's side
    asked = len(mastodon.calls("GET", "/api/v1/accounts/verify_credentials"))
    response = _edit(client, agency, mastodon, channel_id, "restored-token")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert len(mastodon.calls("GET", "/api/v1/accounts/verify_credentials")) == asked + 1
    channel = _reload(agency, channel_id)
    assert channel.status == "connected" and channel.verified_at is not None
    assert channel.check_error is None


def test_a_token_still_refused_leaves_the_channel_broken_and_says_why(
    client, app, agency, target, mastodon
):
    from tests.world import sign_in

    channel_id = _broken(agency, mastodon, "revoked-token").id
    sign_in(client, owner_of(agency))
    response = _edit(client, agency, mastodon, channel_id, "revoked-token", name="Renamed")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The network refused these credentials" in page and 'value="Renamed"' in page
    channel = _reload(agency, channel_id)
    assert channel.status == "needs_reconnect" and channel.name != "Renamed"
