"""“Connect with X / LinkedIn / Facebook / Instagram” through HTTP against the loopback fakes:
authorize redirect → the person consents on the fake → callback → channel saved verified with
handle and avatar; the author or Page chosen when several; state bound to the session and used
once; refusals and bad codes save nothing; without the operator's app, the paste form only."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from agency import crypto, outbound
from agency.channels.models import Channel
from agency.config import ConfigError, OAuthApp, Settings
from agency.db import db
from agency.publishing.connectors.x import XConnector
from tenants.context import tenant_context
from tenants.models import Role
from tests.factories import make_agency, make_client, make_member, owner_of
from tests.fakes.base import running
from tests.fakes.instagram import FakeInstagramGraph
from tests.fakes.linkedin import FakeLinkedIn
from tests.fakes.x import FakeX
from tests.helpers import form_post

BASE_URL = "https://regia.example"


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "Networks Co")


def _configure(app, monkeypatch, provider: str, fake) -> None:  # noqa: ANN001
    """The operator registered Regia at ``provider``; its endpoints are the loopback fake."""
    settings = app.config["REGIA"]
    apps = {
        **settings.oauth_apps,
        provider: OAuthApp(
            provider, fake.oauth_client_id, fake.oauth_client_secret, fake.url, fake.url
        ),
    }
    fake.registered_redirects = [f"{BASE_URL}/oauth/{provider}/callback"]
    new = replace(settings, oauth_apps=apps, allow_private_hosts=True, base_url=BASE_URL)
    monkeypatch.setitem(app.config, "REGIA", new)


@pytest.fixture
def x(app, monkeypatch):
    fake = FakeX()
    fake.consenting_user = fake.add_user("acmecoffee")["id"]
    _configure(app, monkeypatch, "x", fake)
    yield from running(fake)


@pytest.fixture
def linkedin(app, monkeypatch):
    fake = FakeLinkedIn()
    _configure(app, monkeypatch, "linkedin", fake)
    yield from running(fake)


@pytest.fixture
def graph(app, monkeypatch):
    fake = FakeInstagramGraph()
    _configure(app, monkeypatch, "facebook", fake)
    yield from running(fake)


def _channels(agency) -> list[Channel]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(Channel)))


def _start(client, agency, target, network: str, name: str = "Acme social"):
    url = f"/a/{agency.slug}/clients/{target.id}/channels/connect/{network}"
    return form_post(client, url, {"name": name})


def _authorize_link(response) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    found = re.search(r'id="continue-to-network" href="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


def _consent(link: str, decision: str = "approve") -> str:
    """What the person does on the network: open the consent page, press a button."""
    assert httpx.get(link).status_code == 200
    fields = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    answer = httpx.post(link.split("?")[0], data={**fields, "decision": decision})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _callback(client, back: str):
    """The browser lands on the registered redirect URI, which forwards to the agency's."""
    assert back.startswith(BASE_URL + "/oauth/")
    bounce = client.get(_local(back))
    assert bounce.status_code == 302, bounce.get_data(as_text=True)
    return client.get(bounce.headers["location"])


def _connect(client, agency, target, network: str, decision: str = "approve"):
    return _callback(
        client, _consent(_authorize_link(_start(client, agency, target, network)), decision)
    )


def _page(client, response) -> str:
    assert response.status_code == 302
    return client.get(response.headers["location"]).get_data(as_text=True)


def _secrets(channel: Channel) -> dict:
    return crypto.decrypt_json(channel.credentials_encrypted)


# --- X ----------------------------------------------------------------------------------------


def test_connect_with_x_saves_a_verified_channel(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    started = _start(client, agency, target, "x")
    assert x.oauth_client_secret not in started.get_data(as_text=True)  # the operator's secret
    link = _authorize_link(started)
    assert link.startswith(f"{x.url}/i/oauth2/authorize?")
    query = parse_qs(urlsplit(link).query)
    assert query["scope"] == ["tweet.read tweet.write users.read offline.access media.write"]
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [x.client_id]
    assert query["redirect_uri"] == [f"{BASE_URL}/oauth/x/callback"]
    done = _callback(client, _consent(link))
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")
    (channel,) = _channels(agency)
    assert (channel.network, channel.name, channel.handle) == ("x", "Acme social", "@acmecoffee")
    assert channel.avatar_url.endswith("acmecoffee_normal.jpg") and channel.verified_at
    stored = _secrets(channel)
    assert x.tokens[stored["access_token"]] == x.consenting_user
    assert x.refresh_tokens[stored["refresh_token"]] == x.consenting_user
    assert channel.settings == {"client_id": x.client_id, "api_base": x.url}
    (exchange,) = x.calls("POST", "/2/oauth2/token")
    basic = base64.b64decode(exchange.header("authorization").removeprefix("Basic ")).decode()
    assert basic == f"{x.client_id}:{x.oauth_client_secret}"
    assert exchange.form()["code_verifier"][0] and exchange.form()["grant_type"] == [
        "authorization_code"
    ]
    listing = client.get(f"/a/{agency.slug}/clients/{target.id}/channels/").get_data(as_text=True)
    assert "Connected Acme social as @acmecoffee" in listing
    assert stored["access_token"] not in listing


def test_an_x_channel_refreshes_with_the_operators_app(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    _connect(client, agency, target, "x")
    (channel,) = _channels(agency)
    settings = {**channel.settings, **_secrets(channel)}
    with outbound.client() as http:
        fresh = XConnector(settings, http).refresh_credentials()
    assert fresh and fresh["access_token"] in x.tokens
    refresh = x.calls("POST", "/2/oauth2/token")[-1]
    assert refresh.header("authorization").startswith("Basic ")  # confidential client


def test_denied_access_saves_nothing(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    page = _page(client, _connect(client, agency, target, "x", decision="deny"))
    assert "X did not grant access (The user denied the request.)" in page
    assert _channels(agency) == [] and x.calls("POST", "/2/oauth2/token") == []


def test_a_refused_code_exchange_is_a_clear_message(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    back = _consent(_authorize_link(_start(client, agency, target, "x")))
    body = {"error": "invalid_request", "error_description": "Value passed for the code was bad."}
    x.fail("POST", "/2/oauth2/token", 400, body)
    page = _page(client, _callback(client, back))
    assert "X did not complete the sign-in: Value passed for the code was bad." in page
    assert _channels(agency) == []


def test_a_forged_state_is_refused(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    back = _consent(_authorize_link(_start(client, agency, target, "x")))
    forged = re.sub(r"state=[^&]+", "state=forged", _local(back))
    page = client.get(forged, follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in page
    # Straight to the agency's callback with a state of another provider's flow: refused too.
    state = parse_qs(urlsplit(back).query)["state"][0]
    other = f"/a/{agency.slug}/oauth/linkedin/callback?code=c&state={state}"
    assert "not valid any more" in client.get(other, follow_redirects=True).get_data(as_text=True)
    assert _channels(agency) == [] and x.calls("POST", "/2/oauth2/token") == []


def test_a_state_works_once_and_only_in_its_session(client, auth, app, agency, target, x):
    auth.login(owner_of(agency).email)
    back = _consent(_authorize_link(_start(client, agency, target, "x")))
    other = app.test_client()
    form_post(
        other, "/login", {"email": owner_of(agency).email, "password": "correct horse battery"}
    )
    refused = other.get(_local(back), follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in refused and _channels(agency) == []
    _callback(client, back)
    assert len(_channels(agency)) == 1
    replay = client.get(_local(back), follow_redirects=True).get_data(as_text=True)
    assert "not valid any more" in replay and len(_channels(agency)) == 1
    assert len(x.calls("POST", "/2/oauth2/token")) == 1


def test_staff_cannot_start_connecting(client, auth, agency, target, x):
    staff = make_member(agency, Role.STAFF, assigned=[target])
    auth.login(staff.email)
    url = f"/a/{agency.slug}/clients/{target.id}/channels/connect/x"
    assert client.get(url).status_code in (403, 404)
    assert client.post(url, data={"name": "Nope"}).status_code in (400, 403, 404)


def test_without_the_operators_app_only_the_paste_form(client, auth, agency, target):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    for network in ("x", "linkedin", "facebook_page", "instagram"):
        page = client.get(f"{base}/connect/{network}").get_data(as_text=True)
        assert 'id="not-configured"' in page and 'id="network-connect"' not in page
        refused = form_post(
            client, f"{base}/connect/{network}", {"name": "Sneaky"}, page=base + "/"
        )
        assert refused.status_code == 422 and "not set up on this server" in refused.get_data(
            as_text=True
        )
        form = client.get(f"{base}/new?network={network}").get_data(as_text=True)
        assert 'id="connect-network"' not in form and "settings-access_token" in form


def test_with_the_operators_app_the_form_offers_to_connect(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    form = client.get(f"{base}/new?network=x").get_data(as_text=True)
    assert 'id="connect-network"' in form and "settings-access_token" in form
    other = client.get(f"{base}/new?network=linkedin").get_data(as_text=True)
    assert 'id="connect-network"' not in other


def test_a_name_is_required_and_must_be_free(client, auth, agency, target, x):
    auth.login(owner_of(agency).email)
    empty = _start(client, agency, target, "x", name="")
    assert empty.status_code == 422 and "Enter a name" in empty.get_data(as_text=True)
    assert x.requests == []


# --- LinkedIn ---------------------------------------------------------------------------------


def _linkedin_member(fake: FakeLinkedIn, orgs: int) -> tuple[dict, list[dict]]:
    made = [fake.add_organization(f"Acme{i}", f"unused-org-token-{i}") for i in range(orgs)]
    return fake.add_member("Ada Lovelace", administers=tuple(made)), made


def test_linkedin_asks_which_author_and_saves_the_organization(
    client, auth, agency, target, linkedin
):
    _member, (first, second) = _linkedin_member(linkedin, 2)
    auth.login(owner_of(agency).email)
    link = _authorize_link(_start(client, agency, target, "linkedin"))
    assert link.startswith(f"{linkedin.url}/oauth/v2/authorization?")
    scopes = parse_qs(urlsplit(link).query)["scope"][0].split()
    assert {"w_member_social", "w_organization_social", "r_organization_social"} <= set(scopes)
    done = _callback(client, _consent(link))
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/connect/choose")
    page = client.get(done.headers["location"]).get_data(as_text=True)
    assert "Ada Lovelace (your profile)" in page and "Acme0" in page and "Acme1" in page
    assert _channels(agency) == []
    answer = form_post(client, done.headers["location"], {"account": second["urn"]})
    assert answer.status_code == 302
    (channel,) = _channels(agency)
    assert channel.settings["organization_urn"] == second["urn"] and channel.handle == "acme1"
    assert channel.verified_at is not None
    token = _secrets(channel)["access_token"]
    assert linkedin.tokens[token].startswith("urn:li:person:")
    (exchange,) = linkedin.calls("POST", "/oauth/v2/accessToken")
    assert exchange.form()["client_secret"] == [linkedin.oauth_client_secret]


def test_linkedin_member_alone_is_saved_at_once(client, auth, agency, target, linkedin):
    member, _orgs = _linkedin_member(linkedin, 0)
    auth.login(owner_of(agency).email)
    done = _connect(client, agency, target, "linkedin")
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")
    (channel,) = _channels(agency)
    assert channel.settings["organization_urn"] == member["urn"]
    assert channel.handle == "Ada Lovelace" and channel.avatar_url == member["picture"]


def test_linkedin_pages_refused_still_offers_the_member(client, auth, agency, target, linkedin):
    """An app without the page product (organizationAcls answers 403): the member can still
    connect as themselves instead of the whole sign-in failing."""
    member, _orgs = _linkedin_member(linkedin, 2)
    linkedin.fail(
        "GET", "/rest/organizationAcls", 403,
        {"status": 403, "serviceErrorCode": 100, "message": "Not enough permissions"},
    )  # fmt: skip
    auth.login(owner_of(agency).email)
    done = _connect(client, agency, target, "linkedin")
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")
    (channel,) = _channels(agency)
    assert channel.settings["organization_urn"] == member["urn"]


def test_a_choice_not_offered_is_refused(client, auth, agency, target, linkedin):
    _linkedin_member(linkedin, 2)
    auth.login(owner_of(agency).email)
    done = _connect(client, agency, target, "linkedin")
    answer = form_post(client, done.headers["location"], {"account": "urn:li:organization:1"})
    assert answer.status_code == 422 and "Choose one of the accounts" in answer.get_data(
        as_text=True
    )
    assert _channels(agency) == []


def test_linkedin_cancel_is_a_clear_message(client, auth, agency, target, linkedin):
    _linkedin_member(linkedin, 1)
    auth.login(owner_of(agency).email)
    page = _page(client, _connect(client, agency, target, "linkedin", decision="deny"))
    assert "LinkedIn did not grant access (The user cancelled the authorization)" in page
    assert _channels(agency) == []


# --- Facebook Pages and Instagram -------------------------------------------------------------


def test_facebook_lists_the_pages_and_saves_the_chosen_page(client, auth, agency, target, graph):
    pages = [
        graph.add_page("Acme Roastery", "page-token-roastery-7Hq"),
        graph.add_page("Acme Bakery", "page-token-bakery-9Kz"),
    ]
    graph.add_person("Pat Owner", manages=tuple(pages))
    auth.login(owner_of(agency).email)
    link = _authorize_link(_start(client, agency, target, "facebook_page"))
    assert link.startswith(f"{graph.url}/v23.0/dialog/oauth?")
    assert "pages_manage_posts" in parse_qs(urlsplit(link).query)["scope"][0]
    done = _callback(client, _consent(link))
    choose = done.headers["location"]
    page = client.get(choose).get_data(as_text=True)
    assert "Acme Roastery" in page and "Acme Bakery" in page
    assert "page-token" not in page  # the Page tokens stay on the server
    form_post(client, choose, {"account": pages[1]["id"]})
    (channel,) = _channels(agency)
    assert channel.settings["page_id"] == pages[1]["id"] and channel.handle == "Acme Bakery"
    assert _secrets(channel)["access_token"] == "page-token-bakery-9Kz"
    assert channel.avatar_url and channel.verified_at is not None
    exchanges = graph.calls("GET", "/v23.0/oauth/access_token")
    assert [r.arg("grant_type") for r in exchanges] == [None, "fb_exchange_token"]


def test_instagram_saves_the_pages_business_account(client, auth, agency, target, graph):
    page = graph.add_page("Acme Roastery", "page-token-roastery-7Hq")
    graph.add_page("No Instagram", "page-token-plain-3Jw")
    account = graph.add_instagram(page, "acmeroastery")
    graph.add_person("Pat Owner", manages=tuple(graph.pages.values()))
    auth.login(owner_of(agency).email)
    done = _connect(client, agency, target, "instagram")
    assert done.headers["location"].endswith(f"/clients/{target.id}/channels/")
    (channel,) = _channels(agency)
    assert channel.network == "instagram" and channel.settings["ig_user_id"] == account["id"]
    assert channel.handle == "@acmeroastery" and channel.avatar_url.endswith("acmeroastery.jpg")


def test_instagram_without_a_business_account_says_so(client, auth, agency, target, graph):
    graph.add_person("Pat Owner", manages=(graph.add_page("Plain", "page-token-plain-3Jw"),))
    auth.login(owner_of(agency).email)
    page = _page(client, _connect(client, agency, target, "instagram"))
    assert "has an Instagram business account linked" in page and _channels(agency) == []


def test_a_used_facebook_code_is_refused_with_graphs_message(client, auth, agency, target, graph):
    graph.add_person("Pat Owner", manages=(graph.add_page("Acme", "page-token-acme-5Rt"),))
    auth.login(owner_of(agency).email)
    back = _consent(_authorize_link(_start(client, agency, target, "facebook_page")))
    code = parse_qs(urlsplit(back).query)["code"][0]
    graph.redeem(
        code,
        graph.oauth_client_id,
        graph.oauth_client_secret,
        f"{BASE_URL}/oauth/facebook/callback",
    )
    page = _page(client, _callback(client, back))
    assert "This authorization code has been used." in page and _channels(agency) == []


def test_no_choice_in_session_sends_back_to_the_channels(client, auth, agency, target, graph):
    auth.login(owner_of(agency).email)
    url = f"/a/{agency.slug}/clients/{target.id}/channels/connect/choose"
    assert 'id="no-sign-in"' in client.get(url).get_data(as_text=True)
    answer = form_post(client, url, {"account": "1"})
    assert answer.status_code == 302 and answer.headers["location"].endswith("/channels/")
    assert _channels(agency) == []


# --- operator configuration -------------------------------------------------------------------


def test_the_operators_apps_come_from_the_environment(tmp_path):
    env = {
        "REGIA_INSTANCE_PATH": str(tmp_path),
        "REGIA_X_CLIENT_ID": "x-client",
        "REGIA_X_CLIENT_SECRET": "x-secret-value",
        "REGIA_FACEBOOK_CLIENT_ID": "123456",
        "REGIA_FACEBOOK_CLIENT_SECRET": "meta-secret-value",
        "REGIA_FACEBOOK_API_BASE": "http://127.0.0.1:9999/",
    }
    apps = Settings.from_env(env).oauth_apps
    assert set(apps) == {"x", "facebook"}
    assert (apps["x"].authorize_base, apps["x"].api_base) == ("https://x.com", "https://api.x.com")
    assert apps["facebook"].api_base == "http://127.0.0.1:9999"
    assert "secret" not in repr(apps["x"])
    with pytest.raises(ConfigError, match="REGIA_LINKEDIN_CLIENT_SECRET"):
        Settings.from_env({"REGIA_INSTANCE_PATH": str(tmp_path), "REGIA_LINKEDIN_CLIENT_ID": "li"})


def test_the_health_check_refreshes_an_expired_x_token_instead_of_disconnecting(
    client, auth, agency, target, x
):
    from agency.channels import jobs

    auth.login(owner_of(agency).email)
    _connect(client, agency, target, "x")
    (channel,) = _channels(agency)
    old = _secrets(channel)
    x.tokens.pop(old["access_token"])  # two hours later: X's access token expired
    report = jobs.check_channels(str(agency.id))
    assert report["verified"] == 1 and report["needs_reconnect"] == 0
    (checked,) = _channels(agency)
    fresh = _secrets(checked)
    assert checked.status == "connected" and fresh["access_token"] in x.tokens
    assert fresh["refresh_token"] != old["refresh_token"]  # rotated, and the new one kept
    assert fresh["refresh_token"] in x.refresh_tokens
    # A refresh token revoked too: now the channel needs reconnecting.
    x.tokens.pop(fresh["access_token"])
    x.refresh_tokens.pop(fresh["refresh_token"])
    assert jobs.check_channels(str(agency.id))["needs_reconnect"] == 1
