"""Channels through HTTP: per-network settings, validation, edit/disable/delete, key rotation."""

from __future__ import annotations

import re
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from agency import crypto
from agency.audit import AuditEvent
from agency.channels.models import Channel
from agency.db import db
from tenants.context import tenant_context
from tests.factories import make_agency, make_channel, make_client, owner_of, token_for
from tests.helpers import bearer, form_post

# Saving a channel would ask its network, which the suite cannot reach.
pytestmark = pytest.mark.usefixtures("networks_not_checked")


VALID = {
    "mastodon": {"instance_url": "https://mastodon.social", "access_token": "tok"},
    "bluesky": {"handle": "acme.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"},
    "x": {"access_token": "a", "refresh_token": "r", "client_id": "cid"},
    "facebook_page": {"page_id": "1234567890", "access_token": "fb"},
    "instagram": {"ig_user_id": "17841400000000000", "access_token": "ig"},
    "linkedin": {"organization_urn": "urn:li:organization:42", "access_token": "li"},
    "webhook": {"url": "https://hooks.example/regia", "secret": "whsec_abc"},
    "manual": {},
}
MASTODON_FTP = {**VALID["mastodon"], "instance_url": "ftp://x"}
BLUESKY_JS = {**VALID["bluesky"], "pds_url": "javascript:alert(1)"}
LINKEDIN_BAD_URN = {**VALID["linkedin"], "organization_urn": "acme"}
DEFAULT_BASES = {
    "bluesky": ("pds_url", "https://bsky.social"),
    "x": ("api_base", "https://api.x.com"),
    "facebook_page": ("graph_base", "https://graph.facebook.com"),
    "instagram": ("graph_base", "https://graph.facebook.com"),
    "linkedin": ("api_base", "https://api.linkedin.com"),
}


@pytest.fixture
def agency(database_url):
    return make_agency()


@pytest.fixture
def target(agency):
    return make_client(agency, "Channel Co")


@pytest.fixture
def headers(agency):
    return bearer(token_for(owner_of(agency), agency))


def _channels(agency) -> list[Channel]:
    with tenant_context(agency.id):
        return list(db.session.scalars(select(Channel)))


def _url(target) -> str:
    return f"/api/v1/clients/{target.id}/channels"


@pytest.mark.parametrize("network", sorted(VALID))
def test_each_network_registers_with_its_required_settings(
    client, agency, target, headers, network
):
    payload = {"network": network, "name": f"{network} account", "settings": VALID[network]}
    response = client.post(_url(target), json=payload, headers=headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["network"] == network and body["status"] == "connected"
    (channel,) = _channels(agency)
    secret_names = {"access_token", "refresh_token", "app_password", "secret"}
    if network == "webhook":
        secret_names.add("url")  # a webhook URL is a credential
    expected_secrets = {k: v for k, v in VALID[network].items() if k in secret_names}
    assert crypto.decrypt_json(channel.credentials_encrypted) == expected_secrets
    assert not set(channel.settings) & secret_names
    assert sorted(body["credential_fields"]) == sorted(expected_secrets)
    assert body["has_credentials"] is bool(expected_secrets)
    if network in DEFAULT_BASES:
        key, default = DEFAULT_BASES[network]
        assert body["settings"][key] == default


@pytest.mark.parametrize("network", sorted(n for n in VALID if VALID[n]))
def test_each_missing_setting_is_a_field_error_and_writes_nothing(
    client, agency, target, headers, network
):
    for missing in VALID[network]:
        settings = {k: v for k, v in VALID[network].items() if k != missing}
        payload = {"network": network, "name": "Acct", "settings": settings}
        response = client.post(_url(target), json=payload, headers=headers)
        assert response.status_code == 422, (missing, response.json)
        assert missing in response.json["errors"]["json"]["settings"]
    assert _channels(agency) == []


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({"network": "myspace", "name": "X", "settings": {}}, "network"),
        ({"network": "", "name": "X", "settings": {}}, "network"),
        ({"network": "manual", "name": " ", "settings": {}}, "name"),
        ({"network": "manual", "name": "M", "settings": {"token": "x"}}, "settings"),
        ({"network": "mastodon", "name": "M", "settings": MASTODON_FTP}, "settings"),
        ({"network": "bluesky", "name": "B", "settings": BLUESKY_JS}, "settings"),
        ({"network": "linkedin", "name": "L", "settings": LINKEDIN_BAD_URN}, "settings"),
    ],
)
def test_bad_channel_input_is_rejected(client, agency, target, headers, payload, where):
    response = client.post(_url(target), json=payload, headers=headers)
    assert response.status_code == 422
    assert where in response.json["errors"]["json"]
    assert _channels(agency) == []
    with tenant_context(agency.id):
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_web_unknown_network_and_missing_settings_show_errors(client, auth, agency, target):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    chooser = client.get(f"{base}/new").get_data(as_text=True)
    assert "network-choice" in chooser
    unknown = form_post(client, f"{base}/new", {"network": "myspace", "name": "X"})
    assert unknown.status_code == 422 and "Unknown network" in unknown.get_data(as_text=True)
    missing = form_post(
        client,
        f"{base}/new",
        {"network": "mastodon", "name": "M", "settings-instance_url": "https://m.example"},
        page=f"{base}/new?network=mastodon",
    )
    assert missing.status_code == 422
    assert "This setting is required." in missing.get_data(as_text=True)
    assert _channels(agency) == []


def test_web_add_edit_disable_enable_delete(client, auth, agency, target):
    auth.login(owner_of(agency).email)
    base = f"/a/{agency.slug}/clients/{target.id}/channels"
    added = form_post(
        client,
        f"{base}/new",
        {
            "network": "mastodon",
            "name": "Toots",
            "handle": "@acme",
            "settings-instance_url": "https://m.example/",
            "settings-access_token": "first-token",
        },
        page=f"{base}/new?network=mastodon",
    )
    assert added.status_code == 302
    (channel,) = _channels(agency)
    assert channel.settings == {"instance_url": "https://m.example"}
    edit = f"{base}/{channel.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert "stored — leave blank to keep" in page
    # Blank secret, same endpoint: the stored secret is kept.
    form = {"name": "Toots 2", "settings-instance_url": "https://m.example"}
    kept = form_post(client, edit, {**form, "settings-access_token": ""})
    assert kept.status_code == 302
    (channel,) = _channels(agency)
    assert channel.name == "Toots 2" and channel.settings["instance_url"] == "https://m.example"
    assert crypto.decrypt_json(channel.credentials_encrypted) == {"access_token": "first-token"}
    form["settings-instance_url"] = "https://m2.example"  # a new endpoint needs the secret again
    replaced = form_post(client, edit, {**form, "settings-access_token": "new"})
    assert replaced.status_code == 302
    assert _channels(agency)[0].settings["instance_url"] == "https://m2.example"
    assert crypto.decrypt_json(_channels(agency)[0].credentials_encrypted) == {
        "access_token": "new"
    }
    bad = form_post(client, edit, {"name": "T", "settings-instance_url": "not a url"})
    assert bad.status_code == 422 and _channels(agency)[0].name == "Toots 2"

    listing = f"{base}/"
    assert form_post(client, f"{base}/{channel.id}/disable", {}, page=listing).status_code == 302
    assert _channels(agency)[0].status == "disabled"
    assert "Disabled" in client.get(listing).get_data(as_text=True)
    assert form_post(client, f"{base}/{channel.id}/enable", {}, page=listing).status_code == 302
    assert _channels(agency)[0].status == "connected"
    assert form_post(client, f"{base}/{channel.id}/delete", {}, page=listing).status_code == 302
    assert _channels(agency) == []
    with tenant_context(agency.id):
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at))
        assert list(actions) == [
            "channel.added",
            "channel.updated",
            "channel.updated",
            "channel.disabled",
            "channel.enabled",
            "channel.removed",
        ]


def test_api_patch_status_and_delete(client, agency, target, headers):
    channel = make_channel(agency, target)
    url = f"{_url(target)}/{channel.id}"
    assert client.patch(url, json={"status": "disabled"}, headers=headers).json["status"] == (
        "disabled"
    )
    assert client.patch(url, json={"status": "needs_reconnect"}, headers=headers).status_code == 422
    renamed = client.patch(url, json={"name": "Renamed"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json["name"] == "Renamed"
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404


def test_channels_are_listed_by_name_on_the_api_and_the_page(client, auth, agency, target, headers):
    for name in ("Zeta", "Alpha", "Mid"):
        make_channel(agency, target, network="manual", name=name, settings={}, secrets={})
    make_channel(agency, make_client(agency, "Other"), network="manual", name="Else", settings={})

    listed = client.get(_url(target), headers=headers)
    auth.login(owner_of(agency).email)
    page = client.get(f"/a/{agency.slug}/clients/{target.id}/channels/").get_data(as_text=True)

    assert listed.status_code == 200
    assert [c["name"] for c in listed.json["items"]] == ["Alpha", "Mid", "Zeta"]
    # The names as the table's cells show them: a bare substring can also turn up in the
    # page's random tokens (once "Mid", before the table).
    assert re.findall(r">(Alpha|Mid|Zeta|Else)</td>", page) == ["Alpha", "Mid", "Zeta"]
    assert "Else" not in page  # nor anywhere else on the page


def test_channel_of_another_client_is_404(client, agency, target, headers):
    other = make_client(agency, "Other")
    channel = make_channel(agency, other)
    assert client.get(f"{_url(target)}/{channel.id}", headers=headers).status_code == 404
    assert client.delete(f"{_url(target)}/{channel.id}", headers=headers).status_code == 404
    assert len(_channels(agency)) == 1


def test_rotate_keys_reencrypts_under_the_newest_key(app, make_app, settings, agency, target):
    other_agency = make_agency()
    other_client = make_client(other_agency, "Elsewhere")
    first = make_channel(
        agency,
        target,
        secrets={"access_token": "one"},
        settings={"instance_url": "https://a.example"},
    )  # noqa: E501
    second = make_channel(
        other_agency,
        other_client,
        secrets={"access_token": "two"},
        settings={"instance_url": "https://b.example"},
    )  # noqa: E501
    make_channel(agency, target, network="manual", settings={}, secrets={})
    old_key = settings.encryption_keys[0]
    new_key = Fernet.generate_key().decode()
    rotated_app = make_app(encryption_keys=(new_key, old_key))
    with rotated_app.app_context():  # the command runs in the app whose keys were rotated
        result = rotated_app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert result.output == "Re-encrypted the credentials of 2 channel(s) under the newest key.\n"
    new_only = Fernet(new_key.encode())
    for owner, channel, secret in ((agency, first, "one"), (other_agency, second, "two")):
        with tenant_context(owner.id):
            stored = db.session.get(Channel, channel.id, populate_existing=True)
            assert new_only.decrypt(stored.credentials_encrypted.encode()) == (
                f'{{"access_token": "{secret}"}}'.encode()
            )


def test_the_service_refuses_a_handle_over_200_characters_with_its_message(app, agency, target):
    # The API schema and the form cap handles first; the service rule must hold on its own.
    from agency.channels.service import add_channel
    from agency.errors import ValidationFailed
    from tenants.service import load_access

    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        with pytest.raises(ValidationFailed) as refused:
            add_channel(access, target, {"network": "manual", "name": "Long", "handle": "h" * 201})
        assert refused.value.errors == {"handle": ["Use at most 200 characters."]}
        db.session.rollback()
    assert _channels(agency) == []
    with app.test_request_context(), tenant_context(agency.id):
        add_channel(access, target, {"network": "manual", "name": "Edge", "handle": "h" * 200})
    assert [c.handle for c in _channels(agency)] == ["h" * 200]


def test_a_bluesky_channel_without_a_handle_takes_the_one_in_its_settings(
    client, agency, target, headers
):
    payload = {"network": "bluesky", "name": "Sky", "settings": VALID["bluesky"]}
    response = client.post(_url(target), json=payload, headers=headers)

    assert response.status_code == 201, response.json
    assert [c.handle for c in _channels(agency)] == ["acme.bsky.social"]


def test_the_service_refuses_a_status_other_than_connected_or_disabled(app, agency, target):
    # The API schema lists the two statuses first; the service rule must hold on its own.
    from agency.channels.connect import update_channel
    from agency.errors import ValidationFailed
    from tenants.service import load_access

    channel = make_channel(agency, target)
    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        with pytest.raises(ValidationFailed) as refused:
            update_channel(access, channel, {"name": "Renamed"}, "needs_reconnect", via="api")
        assert refused.value.errors == {"status": ["Use connected or disabled."]}
    assert [(c.name, c.status) for c in _channels(agency)] == [(channel.name, "connected")]


def test_a_channel_is_found_by_its_id_and_an_unknown_id_is_404_with_its_message(
    client, agency, target, headers
):
    # Written for the mutation run: get_channel 5 (the id condition dropped) and 11-15.
    first = make_channel(agency, target, network="manual", name="First", settings={})
    second = make_channel(agency, target, network="manual", name="Second", settings={})

    found = [client.get(f"{_url(target)}/{c.id}", headers=headers) for c in (second, first)]
    unknown = client.get(f"{_url(target)}/{uuid.uuid4()}", headers=headers)

    assert [(r.status_code, r.json["id"], r.json["name"]) for r in found] == [
        (200, str(second.id), "Second"),
        (200, str(first.id), "First"),
    ]
    assert unknown.status_code == 404
    assert unknown.json["message"] == "No such channel."


UNKNOWN_NETWORK = (
    "Unknown network. Choose one of: "
    "mastodon, bluesky, x, facebook_page, instagram, linkedin, webhook, manual."
)
BLANK_NAME = "Enter a name (spaces and invisible characters do not count)."


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"network": "myspace", "name": "X"}, {"network": [UNKNOWN_NETWORK]}),
        ({"network": "manual", "name": " \u200b "}, {"name": [BLANK_NAME]}),
        ({"network": "manual", "name": "n" * 201}, {"name": ["Use at most 200 characters."]}),
        (
            {"network": "manual", "name": "M", "settings": {"token": "x"}},
            {"settings": {"token": ["Not a setting of this network."]}},
        ),
        (
            {"network": "manual", "name": " ", "settings": ["x"]},
            {"name": [BLANK_NAME], "settings": {"_schema": ["Settings must be an object."]}},
        ),
        (
            {"network": "bluesky", "name": "B", "settings": {"handle": "h" * 201}},
            {
                "settings": {
                    "handle": ["Use at most 200 characters."],
                    "app_password": ["This setting is required."],
                }
            },
        ),
        (
            {"network": "linkedin", "name": "L", "settings": LINKEDIN_BAD_URN},
            {"settings": {"organization_urn": ["This value does not have the expected format."]}},
        ),
    ],
)
def test_the_service_refuses_bad_channel_input_with_its_exact_messages(
    app, agency, target, data, errors
):
    # The API schema and the form check some of these first; the service must hold on its own.
    # Written for the mutation run: parse_network, _clean_name, _validate, validate_settings.
    from agency.channels.service import add_channel
    from agency.errors import ValidationFailed
    from tenants.service import load_access

    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        with pytest.raises(ValidationFailed) as refused:
            add_channel(access, target, data)
        assert refused.value.errors == errors
        db.session.rollback()
    assert _channels(agency) == []
    with tenant_context(agency.id):
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_the_service_keeps_values_at_the_limits_and_strips_only_a_url_trailing_slash(
    app, agency, target
):
    # Written for the mutation run: _clean_name 6, validate_settings 21, 42, 50.
    from agency.channels.service import add_channel
    from tenants.service import load_access

    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        add_channel(
            access,
            target,
            {
                "network": "bluesky",
                "name": "n" * 200,
                "settings": {"handle": "h" * 200, "app_password": "pass/word/"},
            },
        )
        add_channel(
            access,
            target,
            {
                "network": "mastodon",
                "name": "Toots",
                "settings": {"instance_url": "https://social.example/X/", "access_token": "tok/"},
            },
        )
    stored = {
        c.network: (c.name, c.handle, c.settings, crypto.decrypt_json(c.credentials_encrypted))
        for c in _channels(agency)
    }
    assert stored == {
        "bluesky": (
            "n" * 200,
            "h" * 200,
            {"pds_url": "https://bsky.social", "handle": "h" * 200},
            {"app_password": "pass/word/"},
        ),
        "mastodon": (
            "Toots",
            None,
            {"instance_url": "https://social.example/X"},
            {"access_token": "tok/"},
        ),
    }


def test_names_equal_once_casefolded_are_taken_though_the_index_only_lowercases(
    app, agency, target
):
    # "STRASSE" and "Straße" differ for lower() (the index) but not for casefold().
    # Written for the mutation run: add_channel 17, update_channel 56 (client_id None).
    from agency.channels.service import add_channel, get_channel, update_channel
    from agency.errors import ValidationFailed
    from tenants.service import load_access

    make_channel(agency, target, network="manual", name="Straße", settings={})
    other = make_channel(agency, target, network="manual", name="Other", settings={})
    access = load_access(owner_of(agency), agency)
    taken = {"name": ["This client already has a channel with this name."]}
    with app.test_request_context(), tenant_context(agency.id):
        with pytest.raises(ValidationFailed) as added:
            add_channel(access, target, {"network": "manual", "name": "STRASSE"})
        db.session.rollback()
        with pytest.raises(ValidationFailed) as renamed:
            update_channel(access, get_channel(access, target, other.id), {"name": "strasse"})
        db.session.rollback()
    assert (added.value.errors, renamed.value.errors) == (taken, taken)
    assert sorted(c.name for c in _channels(agency)) == ["Other", "Straße"]


def test_the_service_refuses_a_network_change_but_takes_a_blank_network(app, agency, target):
    # Written for the mutation run: update_channel 10-21 (the network rule), 25-26 (the
    # handle kept when the change does not name it).
    from agency.channels.service import add_channel, get_channel, update_channel
    from agency.errors import ValidationFailed
    from tenants.service import load_access

    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        channel = add_channel(access, target, {"network": "manual", "name": "M", "handle": "@m"})
        with pytest.raises(ValidationFailed) as refused:
            update_channel(access, channel, {"network": "bluesky", "name": "Sky"})
        db.session.rollback()
        assert refused.value.errors == {"network": ["A channel's network cannot be changed."]}
        update_channel(
            access, get_channel(access, target, channel.id), {"network": "", "name": "Renamed"}
        )
    assert [(c.network, c.name, c.handle) for c in _channels(agency)] == [
        ("manual", "Renamed", "@m")
    ]


@pytest.mark.parametrize(
    ("status", "after"),
    [("disabled", "disabled"), ("needs_reconnect", "connected"), ("connected", "connected")],
)
def test_new_credentials_revive_a_channel_that_needs_reconnecting_and_only_that(
    app, agency, target, status, after
):
    # Written for the mutation run: update_channel 69 (a disabled channel re-enabled by a
    # new token), 70.
    from agency.channels.service import get_channel, update_channel
    from tenants.service import load_access

    channel = make_channel(agency, target, status=status)
    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        update_channel(
            access,
            get_channel(access, target, channel.id),
            {"settings": {"access_token": "a-new-token"}},
        )
    (stored,) = _channels(agency)
    assert stored.status == after
    assert crypto.decrypt_json(stored.credentials_encrypted) == {"access_token": "a-new-token"}


def test_the_service_wants_the_secrets_again_when_an_endpoint_moves(app, agency, target):
    # Written for the mutation run: validate_settings 94, 95.
    from agency.channels.service import get_channel, update_channel
    from agency.errors import ValidationFailed
    from tenants.service import load_access

    channel = make_channel(agency, target)  # mastodon.example, access_token "factory-token"
    access = load_access(owner_of(agency), agency)
    with app.test_request_context(), tenant_context(agency.id):
        with pytest.raises(ValidationFailed) as refused:
            update_channel(
                access,
                get_channel(access, target, channel.id),
                {"settings": {"instance_url": "https://elsewhere.example"}},
            )
        db.session.rollback()
    message = "The endpoint is changing: enter this secret again to confirm it."
    assert refused.value.errors == {"settings": {"access_token": [message]}}
    assert [c.settings for c in _channels(agency)] == [{"instance_url": "https://mastodon.example"}]
