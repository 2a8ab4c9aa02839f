"""“Connect with Mastodon” through HTTP against a loopback instance: app registered once per
instance, state bound to the session, PKCE when the instance offers it, the token exchanged,
verified and stored encrypted; refusals save nothing."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from agency import crypto
from agency.channels.models import Channel, MastodonApp
from agency.db import db
from tenants.context import tenant_context
from tests import test_channel_connect as connect_tests
from tests.factories import make_agency, make_client, owner_of
from tests.helpers import form_post

# The loopback Mastodon and REGIA_ALLOW_PRIVATE_HOSTS fixtures, shared with that module.
mastodon = connect_tests.mastodon
private_hosts = connect_tests.private_hosts


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "OAuth Co")


def _channels(agency) -> list[Channel]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(Channel)))


def _start(client, agency, target, instance: str, name: str = "Acme toots"):
    url = f"/a/{agency.slug}/clients/{target.id}/channels/connect/mastodon"
    return form_post(client, url, {"instance_url": instance, "name": name})


def _authorize_link(response) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    found = re.search(r'id="continue-to-instance" href="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


def _approve(link: str, decision: str = "approve") -> str:
    """What the person does on the instance: open the consent page, press the button."""
    assert httpx.get(link).status_code == 200
    fields = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    base = link.split("/oauth/authorize")[0]
    answer = httpx.post(f"{base}/oauth/authorize", data={**fields, "decision": decision})
    assert answer.status_code == 302
    return answer.headers["location"]


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_connect_with_mastodon_saves_a_verified_channel(client, auth, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    link = _authorize_link(_start(client, agency, target, mastodon.url))
    query = parse_qs(urlsplit(link).query)
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["read write"]
    back = _approve(link)
    assert back.startswith(f"http://localhost/a/{agency.slug}/oauth/mastodon/callback?")
    done = client.get(_local(back))
    assert done.status_code == 302 and done.headers["location"].endswith(
        f"/clients/{target.id}/channels/"
    )
    (channel,) = _channels(agency)
    assert channel.name == "Acme toots" and channel.network == "mastodon"
    assert channel.handle.startswith("@acme@127.0.0.1") and channel.verified_at is not None
    token = crypto.decrypt_json(channel.credentials_encrypted)["access_token"]
    assert mastodon.tokens[token] == mastodon.account_id
    assert channel.settings == {"instance_url": mastodon.url}
    (exchange,) = mastodon.calls("POST", "/oauth/token")
    assert exchange.form()["code_verifier"][0]  # PKCE: the verifier matched the challenge
    listing = client.get(f"/a/{agency.slug}/clients/{target.id}/channels/").get_data(as_text=True)
    assert "Connected Acme toots as @acme@" in listing and token not in listing


def test_the_app_is_registered_once_per_instance(client, auth, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    _authorize_link(_start(client, agency, target, mastodon.url, "First"))
    _authorize_link(_start(client, agency, target, mastodon.url, "Second"))
    assert len(mastodon.calls("POST", "/api/v1/apps")) == 1
    with tenant_context(agency.id):
        (app,) = db.session.scalars(select(MastodonApp))
    secret = crypto.decrypt_json(app.client_secret_encrypted)["client_secret"]
    assert secret and secret not in app.client_secret_encrypted


def test_a_state_from_another_session_is_refused(client, auth, app, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    back = _approve(_authorize_link(_start(client, agency, target, mastodon.url)))
    other = app.test_client()
    form_post(
        other, "/login", {"email": owner_of(agency).email, "password": "correct horse battery"}
    )
    refused = other.get(_local(back), follow_redirects=True)
    assert "not valid any more" in refused.get_data(as_text=True)
    assert _channels(agency) == [] and mastodon.calls("POST", "/oauth/token") == []
    # A state is used once: replaying the callback in the right session after success fails.
    assert client.get(_local(back)).status_code == 302 and len(_channels(agency)) == 1
    replay = client.get(_local(back), follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in replay and len(_channels(agency)) == 1


def test_an_instance_without_pkce_still_connects(client, auth, agency, target, mastodon):
    mastodon.pkce = False
    auth.login(owner_of(agency).email)
    link = _authorize_link(_start(client, agency, target, mastodon.url))
    assert "code_challenge" not in link
    client.get(_local(_approve(link)))
    assert len(_channels(agency)) == 1
    assert "code_verifier" not in mastodon.calls("POST", "/oauth/token")[0].form()


def test_denied_access_saves_nothing(client, auth, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    back = _approve(_authorize_link(_start(client, agency, target, mastodon.url)), "deny")
    page = client.get(_local(back), follow_redirects=True).get_data(as_text=True)
    assert "did not grant access" in page and _channels(agency) == []


@pytest.mark.parametrize(
    ("instance", "message"),
    [("", "Enter the address"), ("ftp://m.example", "http"), ("https://10.0.0.1", "private")],
)
def test_a_bad_instance_address_is_a_form_error(
    client, auth, agency, target, app, instance, message
):
    auth.login(owner_of(agency).email)
    response = _start(client, agency, target, instance)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with tenant_context(agency.id):
        assert db.session.scalars(select(MastodonApp)).all() == []


def test_an_unreachable_instance_is_a_form_error(client, auth, agency, target, private_hosts):
    auth.login(owner_of(agency).email)
    response = _start(client, agency, target, "http://127.0.0.1:9")
    assert response.status_code == 422
    assert "could not be reached" in response.get_data(as_text=True)


def test_staff_cannot_start_connecting(client, auth, agency, target, mastodon):
    from tenants.models import Role
    from tests.factories import make_member

    staff = make_member(agency, Role.STAFF, assigned=[target])
    auth.login(staff.email)
    url = f"/a/{agency.slug}/clients/{target.id}/channels/connect/mastodon"
    assert client.get(url).status_code in (403, 404)
    assert mastodon.calls("POST", "/api/v1/apps") == []


def test_a_forged_state_in_the_right_session_is_refused(client, auth, agency, target, mastodon):
    auth.login(owner_of(agency).email)
    back = _approve(_authorize_link(_start(client, agency, target, mastodon.url)))
    forged = re.sub(r"state=[^&]+", "state=forged", _local(back))
    page = client.get(forged, follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in page
    assert _channels(agency) == [] and mastodon.calls("POST", "/oauth/token") == []


def test_connect_with_mastodon_again_reconnects_the_channel_it_came_from(
    client, auth, agency, target, mastodon
):
    from tests.factories import make_channel

    channel_id = make_channel(
        agency, target, name="Acme toots", settings={"instance_url": mastodon.url},
        secrets={"access_token": "revoked"}, status="needs_reconnect",
    ).id  # fmt: skip
    auth.login(owner_of(agency).email)
    edit = f"/a/{agency.slug}/clients/{target.id}/channels/{channel_id}/edit"
    page = client.get(edit).get_data(as_text=True)
    start = f"/a/{agency.slug}/clients/{target.id}/channels/connect/mastodon?channel={channel_id}"
    assert html.escape(start) in page or start in page
    form = client.get(start).get_data(as_text=True)
    assert "Reconnect Acme toots with Mastodon" in form and mastodon.url in form
    link = _authorize_link(form_post(client, start, {"instance_url": mastodon.url}))
    done = client.get(_local(_approve(link)), follow_redirects=True)
    assert "Reconnected Acme toots." in done.get_data(as_text=True)
    (channel,) = _channels(agency)  # the same channel, not a second one
    assert channel.id == channel_id and channel.status == "connected"
    token = crypto.decrypt_json(channel.credentials_encrypted)["access_token"]
    assert token != "revoked" and mastodon.tokens[token] == mastodon.account_id


def test_reconnecting_another_clients_channel_is_not_found(client, auth, agency, target, mastodon):
    from tests.factories import make_channel

    other = make_client(agency, "Other Co")
    channel_id = make_channel(agency, other, status="needs_reconnect").id
    auth.login(owner_of(agency).email)
    start = f"/a/{agency.slug}/clients/{target.id}/channels/connect/mastodon?channel={channel_id}"
    assert client.get(start).status_code == 404
    assert client.get(start.replace(str(channel_id), "nonsense")).status_code == 404
