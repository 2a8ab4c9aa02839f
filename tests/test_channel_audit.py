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
