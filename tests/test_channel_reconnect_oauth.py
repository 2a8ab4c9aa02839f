"""Reconnecting a broken X / LinkedIn / Facebook / Instagram channel through "Connect with
<network>", against the loopback fakes: the flow remembers the channel, replaces its tokens
(name and settings kept), verifies them and clears needs_reconnect; another account is refused
and changes nothing; no button without the operator's app; another tenant's channel is a 404."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from agency import crypto
from agency.audit import AuditEvent
from agency.channels.models import Channel
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Role
from tests import test_channel_connect_networks as networks
from tests.factories import make_agency, make_channel, make_client, make_member, owner_of
from tests.helpers import form_post

# The loopback fakes with the operator's app configured, shared with that module.
x = networks.x
linkedin = networks.linkedin
graph = networks.graph
agency = networks.agency
target = networks.target


def _broken(agency, target, network: str, handle: str, settings: dict, name: str) -> Channel:
    """A channel whose token the network refused: it needs reconnecting."""
    channel = make_channel(
        agency, target, network=network, name=name, settings=settings,
        secrets={"access_token": "revoked-token"}, status="needs_reconnect",
    )  # fmt: skip
    with tenant_context(agency.id):
        stored = db.session.get(Channel, channel.id)
        stored.handle = handle
        db.session.commit()
    return channel


def _channel(agency) -> Channel:
    (channel,) = networks._channels(agency)  # the same channel, never a second one
    return channel


def _updates(agency) -> list[AuditEvent]:
    with tenant_context(agency.id):
        return list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.action == "channel.updated"))
        )


def _base(agency, target) -> str:
    return f"/a/{agency.slug}/clients/{target.id}/channels"


def _reconnect(client, agency, target, channel: Channel, network: str, decision="approve"):
    """The manager presses the alert's button, continues, consents; the callback's answer."""
    edit = client.get(f"{_base(agency, target)}/{channel.id}/edit").get_data(as_text=True)
    found = re.search(r'id="reconnect-network" href="([^"]+)"', edit)
    assert found, edit
    start = html.unescape(found.group(1))
    assert start == f"{_base(agency, target)}/connect/{network}?channel={channel.id}"
    form = client.get(start).get_data(as_text=True)
    assert f"Reconnect {channel.name} with" in form and 'id="name"' not in form
    link = networks._authorize_link(form_post(client, start, {}))
    return networks._callback(client, networks._consent(link, decision))


def test_a_broken_x_channel_is_reconnected_with_the_new_token(client, auth, agency, target, x):
    settings = {"client_id": x.client_id, "api_base": x.url}
    channel = _broken(agency, target, "x", "@acmecoffee", settings, "Acme on X")
    auth.login(owner_of(agency).email)
    done = _reconnect(client, agency, target, channel, "x")
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")
    assert "Reconnected Acme on X." in networks._page(client, done)
    after = _channel(agency)
    assert (after.id, after.name, after.settings) == (channel.id, "Acme on X", settings)
    assert after.status == "connected" and after.verified_at is not None
    stored = networks._secrets(after)
    assert x.tokens[stored["access_token"]] == x.consenting_user
    assert x.refresh_tokens[stored["refresh_token"]] == x.consenting_user
    (event,) = _updates(agency)
    assert event.via == "oauth" and event.subject_id == channel.id
    assert event.data["credentials_changed"] is True
    assert stored["access_token"] not in str(event.data)


def test_a_broken_linkedin_page_is_reconnected_without_asking_which(
    client, auth, agency, target, linkedin
):
    _member, (_first, second) = networks._linkedin_member(linkedin, 2)
    settings = {"organization_urn": second["urn"], "api_base": linkedin.url}
    channel = _broken(agency, target, "linkedin", "acme1", settings, "Acme on LinkedIn")
    auth.login(owner_of(agency).email)
    done = _reconnect(client, agency, target, channel, "linkedin")
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")  # no choice
    after = _channel(agency)
    assert (after.name, after.settings, after.status) == ("Acme on LinkedIn", settings, "connected")
    token = networks._secrets(after)["access_token"]
    assert token != "revoked-token" and linkedin.tokens[token] == linkedin.consenting_member
    assert len(_updates(agency)) == 1


def test_a_broken_facebook_page_gets_its_own_page_token(client, auth, agency, target, graph):
    pages = [
        graph.add_page("Acme Roastery", "page-token-roastery-7Hq"),
        graph.add_page("Acme Bakery", "page-token-bakery-9Kz"),
    ]
    graph.add_person("Pat Owner", manages=tuple(pages))
    settings = {"page_id": pages[1]["id"], "graph_base": graph.url}
    channel = _broken(agency, target, "facebook_page", "Acme Bakery", settings, "Bakery")
    auth.login(owner_of(agency).email)
    done = _reconnect(client, agency, target, channel, "facebook_page")
    assert "Reconnected Bakery." in networks._page(client, done)
    after = _channel(agency)
    assert (after.settings, after.status) == (settings, "connected")
    assert networks._secrets(after)["access_token"] == "page-token-bakery-9Kz"


def test_a_broken_instagram_account_gets_its_pages_token(client, auth, agency, target, graph):
    roastery = graph.add_page("Acme Roastery", "page-token-roastery-7Hq")
    bakery = graph.add_page("Acme Bakery", "page-token-bakery-9Kz")
    graph.add_instagram(roastery, "acmeroastery")
    account = graph.add_instagram(bakery, "acmebakery")
    graph.add_person("Pat Owner", manages=(roastery, bakery))
    settings = {"ig_user_id": account["id"], "graph_base": graph.url}
    channel = _broken(agency, target, "instagram", "@acmebakery", settings, "Bakery on IG")
    auth.login(owner_of(agency).email)
    done = _reconnect(client, agency, target, channel, "instagram")
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")  # no choice
    assert "Reconnected Bakery on IG." in networks._page(client, done)
    after = _channel(agency)
    assert (after.name, after.settings, after.status) == ("Bakery on IG", settings, "connected")
    assert networks._secrets(after)["access_token"] == "page-token-bakery-9Kz"
    assert len(_updates(agency)) == 1


def _unchanged(agency, channel: Channel) -> None:
    after = _channel(agency)
    assert after.status == "needs_reconnect" and after.settings == channel.settings
    assert crypto.decrypt_json(after.credentials_encrypted) == {"access_token": "revoked-token"}
    assert _updates(agency) == []


def test_signing_in_as_another_x_account_is_refused(client, auth, agency, target, x):
    x.add_user("someoneelse")
    settings = {"client_id": x.client_id, "api_base": x.url}
    channel = _broken(agency, target, "x", "@someoneelse", settings, "Other on X")
    auth.login(owner_of(agency).email)
    page = networks._page(client, _reconnect(client, agency, target, channel, "x"))
    assert (
        "The X account you signed in with is not the one Other on X publishes as, so nothing "
        "was changed." in html.unescape(page)
    )
    _unchanged(agency, channel)


def test_a_facebook_page_the_person_does_not_manage_is_refused(client, auth, agency, target, graph):
    graph.add_person("Pat Owner", manages=(graph.add_page("Acme", "page-token-acme-5Rt"),))
    elsewhere = graph.add_page("Not Pat's", "page-token-other-2Wq")
    settings = {"page_id": elsewhere["id"], "graph_base": graph.url}
    channel = _broken(agency, target, "facebook_page", "Not Pat's", settings, "Other Page")
    auth.login(owner_of(agency).email)
    page = networks._page(client, _reconnect(client, agency, target, channel, "facebook_page"))
    assert "is not the one Other Page publishes as" in html.unescape(page)
    _unchanged(agency, channel)


def test_an_instagram_account_the_person_does_not_manage_is_refused(
    client, auth, agency, target, graph
):
    mine = graph.add_page("Acme", "page-token-acme-5Rt")
    graph.add_instagram(mine, "acme")
    graph.add_person("Pat Owner", manages=(mine,))
    elsewhere = graph.add_instagram(graph.add_page("Not Pat's", "page-token-other-2Wq"), "other")
    settings = {"ig_user_id": elsewhere["id"], "graph_base": graph.url}
    channel = _broken(agency, target, "instagram", "@other", settings, "Other on IG")
    auth.login(owner_of(agency).email)
    page = networks._page(client, _reconnect(client, agency, target, channel, "instagram"))
    assert "is not the one Other on IG publishes as" in html.unescape(page)
    _unchanged(agency, channel)


def test_without_the_operators_app_the_alert_has_no_connect_button(client, auth, agency, target):
    channel = _broken(agency, target, "x", "@acmecoffee", {"client_id": "c"}, "Acme on X")
    auth.login(owner_of(agency).email)
    edit = client.get(f"{_base(agency, target)}/{channel.id}/edit").get_data(as_text=True)
    assert 'id="needs-reconnect"' in edit and 'id="reconnect-network"' not in edit
    start = f"{_base(agency, target)}/connect/x?channel={channel.id}"
    assert 'id="not-configured"' in client.get(start).get_data(as_text=True)


def test_only_the_configured_networks_alert_offers_to_connect(client, auth, agency, target, x):
    channel = _broken(
        agency, target, "linkedin", "acme", {"organization_urn": "urn:li:organization:1"}, "Li"
    )
    auth.login(owner_of(agency).email)
    edit = client.get(f"{_base(agency, target)}/{channel.id}/edit").get_data(as_text=True)
    assert 'id="needs-reconnect"' in edit and 'id="reconnect-network"' not in edit


def test_another_agencys_or_clients_channel_is_not_found(client, auth, agency, target, x):
    settings = {"client_id": x.client_id}
    theirs = make_agency()
    foreign = _broken(theirs, make_client(theirs, "Theirs"), "x", "@acmecoffee", settings, "T")
    sibling = _broken(agency, make_client(agency, "Sibling"), "x", "@acmecoffee", settings, "S")
    toots = make_channel(agency, target, status="needs_reconnect")
    auth.login(owner_of(agency).email)
    start = f"{_base(agency, target)}/connect/x?channel="
    for wanted in (foreign.id, sibling.id, toots.id, "nonsense"):
        assert client.get(f"{start}{wanted}").status_code == 404
        posted = form_post(client, f"{start}{wanted}", {}, page=_base(agency, target) + "/")
        assert posted.status_code == 404
    assert x.requests == []


def test_staff_cannot_reconnect(client, auth, agency, target, x):
    channel = _broken(agency, target, "x", "@acmecoffee", {"client_id": "c"}, "Acme on X")
    auth.login(make_member(agency, Role.STAFF, assigned=[target]).email)
    start = f"{_base(agency, target)}/connect/x?channel={channel.id}"
    assert client.get(start).status_code in (403, 404)
