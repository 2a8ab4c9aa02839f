"""A channel edit's audit event says whether the credentials changed (never what they are).

Written for the mutation run (bench/MUTATION.md): ``update_channel`` mutant 80.
"""

from __future__ import annotations

from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db
from tenants.context import tenant_context
from tests.factories import make_agency, make_channel, make_client, owner_of, token_for
from tests.helpers import bearer


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
