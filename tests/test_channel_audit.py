"""A channel edit's audit event says whether the credentials changed (never what they are).

Written for the mutation run (bench/MUTATION.md): ``update_channel`` mutant 80.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db
from tenants.context import tenant_context
from tests.factories import make_agency, make_channel, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

# Saving a channel would ask its network, which the suite cannot reach.
pytestmark = pytest.mark.usefixtures("networks_not_checked")


def test_channel_updates_record_whether_credentials_changed(client, database_url):
    agency = make_agency()
    target = make_client(agency, "Audit Co")
    channel = make_channel(agency, target)  # mastodon, access_token "factory-token"
    url = f"/api/v1/clients/{target.id}/channels/{channel.id}"
    headers = bearer(token_for(owner_of(agency), agency))

    renamed = client.patch(url, json={"name": "Renamed"}, headers=headers)
    new_token = {"settings": {"access_token": "a-brand-new-token"}}
    rekeyed = client.patch(url, json=new_token, headers=headers)

    assert (renamed.status_code, rekeyed.status_code) == (200, 200)
    with tenant_context(agency.id):
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "channel.updated")
            .order_by(AuditEvent.created_at)
        ).all()
    assert [e.data["credentials_changed"] for e in events] == [False, True]
    assert all("a-brand-new-token" not in str(e.data) for e in events)


def test_adding_a_channel_records_the_names_of_its_public_settings_only(client, database_url):
    agency = make_agency()
    target = make_client(agency, "Audit Co")
    body = {
        "network": "mastodon",
        "name": "Toots",
        "settings": {"instance_url": "https://mastodon.social", "access_token": "tok-secret-1"},
    }
    added = client.post(
        f"/api/v1/clients/{target.id}/channels",
        json=body,
        headers=bearer(token_for(owner_of(agency), agency)),
    )

    assert added.status_code == 201
    with tenant_context(agency.id):
        event = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "channel.added")
        ).one()
    assert event.data["settings"] == ["instance_url"]
    assert "tok-secret-1" not in str(event.data)


def _channel_events(agency) -> list[tuple]:
    with tenant_context(agency.id):
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.created_at)).all()
        return [
            (e.action, e.via, e.actor_id, e.subject_type, e.subject_id, e.client_id, e.data)
            for e in events
        ]


def test_web_disable_enable_and_delete_are_audited_as_made_on_the_web(client, auth, database_url):
    # Written for the mutation run: set_channel_enabled 1, 2, 14 and delete_channel 1, 2, 10.
    agency = make_agency()
    target = make_client(agency, "Audit Co")
    channel = make_channel(agency, target, network="manual", name="Forum", settings={}, secrets={})
    owner = owner_of(agency)
    auth.login(owner.email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"

    for action in ("disable", "enable", "delete"):
        done = form_post(client, f"{base}/{channel.id}/{action}", {}, page=f"{base}/")
        assert done.status_code == 302, action

    about = ("channel", channel.id, target.id, {"network": "manual", "name": "Forum"})
    assert _channel_events(agency) == [
        ("channel.disabled", "web", owner.id, *about),
        ("channel.enabled", "web", owner.id, *about),
        ("channel.removed", "web", owner.id, *about),
    ]


def test_api_status_changes_and_delete_are_audited_as_made_through_the_api(client, database_url):
    # Written for the mutation run: set_channel_status 5, 9, 10, set_channel_enabled 14 and
    # delete_channel 10; the API's DELETE was recorded as made on the web until then.
    agency = make_agency()
    target = make_client(agency, "Audit Co")
    channel = make_channel(agency, target, network="manual", name="Forum", settings={}, secrets={})
    owner = owner_of(agency)
    url = f"/api/v1/clients/{target.id}/channels/{channel.id}"
    headers = bearer(token_for(owner, agency))

    disabled = client.patch(url, json={"status": "disabled"}, headers=headers)
    enabled = client.patch(url, json={"status": "connected"}, headers=headers)
    deleted = client.delete(url, headers=headers)

    assert (disabled.status_code, disabled.json["status"]) == (200, "disabled")
    assert (enabled.status_code, enabled.json["status"]) == (200, "connected")
    assert deleted.status_code == 204
    about = ("channel", channel.id, target.id, {"network": "manual", "name": "Forum"})
    assert _channel_events(agency) == [
        ("channel.disabled", "api", owner.id, *about),
        ("channel.enabled", "api", owner.id, *about),
        ("channel.removed", "api", owner.id, *about),
    ]


def test_api_add_and_update_are_audited_as_made_through_the_api(client, database_url):
    # Written for the mutation run: add_channel 22, 30 (no id yet when audited), 45 and
    # update_channel 74 (via None, stored as "web").
    agency = make_agency()
    target = make_client(agency, "Audit Co")
    owner = owner_of(agency)
    url = f"/api/v1/clients/{target.id}/channels"
    headers = bearer(token_for(owner, agency))
    settings = {"instance_url": "https://mastodon.example", "access_token": "tok-1"}

    added = client.post(
        url, json={"network": "mastodon", "name": "Toots", "settings": settings}, headers=headers
    )
    channel_id = uuid.UUID(added.json["id"])
    updated = client.patch(
        f"{url}/{channel_id}", json={"settings": {"access_token": "tok-2"}}, headers=headers
    )

    assert (added.status_code, updated.status_code) == (201, 200)
    about = ("channel", channel_id, target.id)
    named = {"network": "mastodon", "name": "Toots"}
    assert _channel_events(agency) == [
        ("channel.added", "api", owner.id, *about, {**named, "settings": ["instance_url"]}),
        ("channel.updated", "api", owner.id, *about, {**named, "credentials_changed": True}),
    ]
