"""Finding 3: throttling keyed on what is attacked, and the client address behind a proxy.

Failed sign-ins count per (account, address) and, more loosely, per account; sign-ups per
address; invitations and resends per agency and per recipient. ``REGIA_TRUSTED_PROXIES``
hops of ``X-Forwarded-For`` are believed, and no more.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agency.config import Settings
from agency.db import db
from tenants.models import Invitation
from tests.factories import PASSWORD, make_agency, make_user, owner_of, token_for
from tests.helpers import bearer, csrf_from

PROXY = "10.0.0.1"  # the reverse proxy's own address, as the app's socket sees it


def _login(client, email: str, password: str, **environ) -> int:  # noqa: ANN001
    html = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"csrf_token": csrf_from(html), "email": email, "password": password},
        environ_base=environ,
    )
    return response.status_code


def _via_proxy(client_ip: str) -> dict:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": client_ip}


@pytest.fixture
def proxied(make_app, database_url):
    app = make_app(trusted_proxies=1, login_rate_limit="3 per minute")
    with app.app_context():
        yield app


def test_trusted_proxies_comes_from_the_environment(tmp_path):
    env = {"REGIA_INSTANCE_PATH": str(tmp_path), "REGIA_TRUSTED_PROXIES": "2"}
    assert Settings.from_env(env=env).trusted_proxies == 2
    assert Settings.from_env(env={"REGIA_INSTANCE_PATH": str(tmp_path)}).trusted_proxies == 0
    limited = Settings.from_env(
        env={"REGIA_INSTANCE_PATH": str(tmp_path), "REGIA_SIGNUP_RATE_LIMIT": "1 per day"}
    )
    assert limited.signup_rate_limit == "1 per day"
    assert limited.login_account_rate_limit == "200 per hour"


def test_behind_a_proxy_one_attacker_locks_out_neither_others_nor_the_victim(proxied):
    victim, bystander = make_user("victim@example.com"), make_user("other@example.com")
    attacker = proxied.test_client()
    codes = [_login(attacker, victim.email, "guess!guess!", **_via_proxy("203.0.113.9"))]
    codes += [_login(attacker, victim.email, "guess!guess!", **_via_proxy("203.0.113.9"))]
    codes += [_login(attacker, victim.email, "guess!guess!", **_via_proxy("203.0.113.9"))]
    codes += [_login(attacker, victim.email, PASSWORD, **_via_proxy("203.0.113.9"))]
    assert codes == [401, 401, 401, 429]  # even the right password, from the attacker's address

    # Everyone reaches the app from the proxy's socket address: only the forwarded one differs.
    assert (
        _login(proxied.test_client(), victim.email, PASSWORD, **_via_proxy("198.51.100.7")) == 302
    )
    assert (
        _login(proxied.test_client(), bystander.email, PASSWORD, **_via_proxy("203.0.113.9")) == 302
    )


def test_without_trusted_proxies_a_forged_forwarded_for_does_not_reset_the_count(
    make_app, database_url
):
    app = make_app(login_rate_limit="3 per minute")
    with app.app_context():
        victim = make_user("victim@example.com")
        client = app.test_client()
        codes = [
            _login(client, victim.email, "guess!guess!", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
            for n in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        # Another socket address is another client.
        assert _login(app.test_client(), victim.email, PASSWORD, REMOTE_ADDR="192.0.2.50") == 302


def test_a_spread_attack_trips_the_slower_per_account_limit(make_app, database_url):
    app = make_app(login_rate_limit="3 per minute", login_account_rate_limit="5 per minute")
    with app.app_context():
        victim, other = make_user("victim@example.com"), make_user("other@example.com")
        codes = [
            _login(app.test_client(), victim.email, "guess!guess!", REMOTE_ADDR=f"192.0.2.{n}")
            for n in range(6)
        ]
        assert codes == [401] * 5 + [429]
        assert _login(app.test_client(), other.email, PASSWORD, REMOTE_ADDR="192.0.2.1") == 302


def test_token_endpoint_is_keyed_on_account_and_address_too(make_app, database_url):
    app = make_app(login_rate_limit="2 per minute")
    with app.app_context():
        agency = make_agency()
        owner = owner_of(agency)
        client = app.test_client()

        def ask(password: str, addr: str) -> int:
            body = {"email": owner.email, "password": password, "agency": agency.slug}
            return client.post(
                "/api/v1/tokens", json=body, environ_base={"REMOTE_ADDR": addr}
            ).status_code

        assert [ask("nope nope", "192.0.2.1") for _ in range(3)] == [401, 401, 429]
        assert ask(PASSWORD, "192.0.2.2") == 201


def test_signups_are_throttled_per_address(make_app, database_url):
    app = make_app(signup_rate_limit="2 per hour")
    with app.app_context():
        client = app.test_client()

        def signup(n: int, addr: str) -> int:
            body = {
                "agency_name": f"Agency {n}",
                "name": "N",
                "email": f"s{n}@example.com",
                "password": PASSWORD,
            }
            return client.post(
                "/api/v1/signup", json=body, environ_base={"REMOTE_ADDR": addr}
            ).status_code

        assert [signup(n, "192.0.2.1") for n in range(3)] == [201, 201, 429]
        assert signup(9, "192.0.2.2") == 201


def _invite(client, headers, email: str):  # noqa: ANN001, ANN202
    return client.post(
        "/api/v1/invitations", json={"email": email, "role": "staff"}, headers=headers
    )


def test_invitations_are_throttled_per_agency(make_app, database_url):
    app = make_app(invitation_rate_limit="2 per hour")
    with app.app_context():
        agency = make_agency()
        headers = bearer(token_for(owner_of(agency), agency))
        client = app.test_client()
        answers = [_invite(client, headers, f"p{n}@example.com") for n in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert answers[2].json["message"] == "Too many attempts. Please wait a while and try again."
        assert (
            client.post(
                f"/api/v1/invitations/{_first_invitation_id()}/resend", headers=headers
            ).status_code
            == 429
        )
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 2
        other = make_agency()
        assert (
            _invite(client, bearer(token_for(owner_of(other), other)), "x@example.com").status_code
            == 201
        )


def _first_invitation_id() -> str:
    return str(db.session.scalar(select(Invitation.id)))


def test_invitations_and_resends_are_throttled_per_recipient_across_agencies(
    make_app, database_url
):
    app = make_app(invitation_recipient_rate_limit="2 per day")
    with app.app_context():
        client = app.test_client()
        first, second = make_agency(), make_agency()
        h1 = bearer(token_for(owner_of(first), first))
        h2 = bearer(token_for(owner_of(second), second))
        assert _invite(client, h1, "target@example.com").status_code == 201
        resend = client.post(f"/api/v1/invitations/{_first_invitation_id()}/resend", headers=h1)
        assert resend.status_code == 200
        refused = _invite(client, h2, "target@example.com")
        assert refused.status_code == 429
        assert refused.json["code"] == 429 and refused.json["message"]
        assert _invite(client, h2, "someone-else@example.com").status_code == 201


def test_a_limit_setting_is_read_from_the_current_apps_settings_at_each_request():
    # Called at test time: the real views' limits were declared while their modules were
    # imported, and Flask-Limiter calls the returned function again on every request.
    from types import SimpleNamespace

    from flask import Flask

    from tenants.throttle import setting

    limit = setting("login_rate_limit")
    first, second = Flask("first"), Flask("second")
    first.config["REGIA"] = SimpleNamespace(login_rate_limit="3 per minute")
    second.config["REGIA"] = SimpleNamespace(login_rate_limit="7 per hour")
    with first.app_context():
        assert limit() == "3 per minute"
    with second.app_context():
        assert limit() == "7 per hour"


def test_the_per_account_key_is_the_submitted_address_normalised(app):
    from tenants.throttle import account_and_address, submitted_email

    long_address = "a" * 400 + "@example.com"
    cases = [
        ({"data": {"email": "  Ada@Example.COM "}}, "ada@example.com"),
        ({"json": {"email": " Bo@Example.com"}}, "bo@example.com"),
        (
            {"data": {"email": "form@example.com"}, "query_string": {"email": "q@x.y"}},
            "form@example.com",
        ),
        ({"data": {"email": long_address}}, long_address[:320]),
        ({"data": {"password": "no address"}}, "-"),
        ({"data": {"email": "   "}}, "-"),
        ({"json": {"email": 42}}, "-"),
        ({"json": ["ada@example.com"]}, "-"),
        ({"data": "not json", "content_type": "application/json"}, "-"),
        ({}, "-"),
    ]
    for request, key in cases:
        with app.test_request_context("/login", method="POST", **request):
            assert submitted_email() == key, request
    environ = {"REMOTE_ADDR": "192.0.2.7"}
    with app.test_request_context("/login", method="POST", environ_base=environ, json={}):
        assert account_and_address() == "-|192.0.2.7"
