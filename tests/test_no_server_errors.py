"""No route answers 5xx, whoever asks and whatever they send; refused input writes nothing.

The tests walk ``app.url_map`` (ids filled as ``tests/test_route_isolation.py`` does), so
routes added later are covered without editing this file. Bodies are derived generically:
web forms from the ``name=`` attributes of the app's own pages, API bodies from the
OpenAPI document, each field filled with hostile values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from werkzeug.datastructures import MultiDict

from agency.db import Base, db, utcnow
from agency.team.invitations import hash_token
from tenants.models import ApiToken, Invitation, Membership, Role, User
from tests import pg
from tests.content_helpers import content_objects
from tests.factories import (
    PASSWORD,
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    owner_of,
    token_for,
)
from tests.helpers import bearer
from tests.test_route_isolation import IGNORED_METHODS, PARAM_RE, _fill

ROLES = ("owner", "manager", "staff", "finance", "client_manager", "client_viewer")
LONG = "x" * 10_000
NUL = "bad\x00value"
UNICODE = "Zoë 🙂 \u202eevil\u202c ﷽"


@dataclass
class World:
    agency: object
    slug: str
    users: dict[str, User]
    tokens: dict[str, str]
    objects: dict[str, uuid.UUID]
    invite_token: str = ""


def build_world() -> World:
    """A rich agency: one user per role, clients, channels of several networks, a policy,
    a pending invitation."""
    agency = make_agency("Rich Agency")
    owner = owner_of(agency)
    acme = make_client(agency, "Acme", legal_name="Acme S.r.l.", country="IT")
    other = make_client(agency, "Globex")
    make_client(agency, "Initech")
    users = {
        "owner": owner,
        "manager": make_member(agency, Role.MANAGER),
        "staff": make_member(agency, Role.STAFF, assigned=[acme]),
        "finance": make_member(agency, Role.FINANCE),
        "client_manager": make_member(agency, Role.CLIENT_MANAGER, client=acme),
        "client_viewer": make_member(agency, Role.CLIENT_VIEWER, client=acme),
    }
    channels = [
        make_channel(agency, acme, network="mastodon"),
        make_channel(
            agency,
            acme,
            network="bluesky",
            settings={"pds_url": "https://bsky.social", "handle": "acme.bsky.social"},
            secrets={"app_password": "app-pass"},
        ),
        make_channel(
            agency,
            acme,
            network="webhook",
            settings={"url": "https://hooks.example/regia"},
            secrets={"secret": "whsec_abc"},
        ),
        make_channel(agency, other, network="manual"),
    ]
    make_policy(agency, acme, approver_ids=[str(users["client_manager"].id)])
    invite_token = f"invite-{uuid.uuid4().hex}"
    invitation = Invitation(
        agency_id=agency.id,
        email="invitee@example.com",
        role=Role.STAFF.value,
        token_hash=hash_token(invite_token),
        invited_by_id=owner.id,
        expires_at=utcnow() + timedelta(days=7),
    )
    db.session.add(invitation)
    db.session.commit()
    tokens = {role: token_for(user, agency) for role, user in users.items()}
    staff_membership = db.session.scalar(
        Membership.__table__.select()
        .with_only_columns(Membership.id)
        .where(Membership.user_id == users["staff"].id, Membership.agency_id == agency.id)
    )
    owner_token_id = db.session.scalar(
        ApiToken.__table__.select()
        .with_only_columns(ApiToken.id)
        .where(ApiToken.prefix == tokens["owner"][:10])
    )
    objects = {
        "client": acme.id,
        "channel": channels[0].id,
        "membership": staff_membership,
        "invitation": invitation.id,
        "token": owner_token_id,
        "approval_policy": acme.id,
        **content_objects(agency, acme, owner),
    }
    return World(agency, agency.slug, users, tokens, objects, invite_token)


def sign_in(client, user: User) -> None:  # noqa: ANN001
    """Sign in without the login form (its rate limit is under test elsewhere)."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


def csrf_token(client) -> str:  # noqa: ANN001
    html = client.get("/account").get_data(as_text=True)
    match = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on /account"
    return match.group(1)


_admin: dict[str, psycopg.Connection] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_admin_connections() -> Iterator[None]:
    yield
    for conn in _admin.values():
        conn.close()
    _admin.clear()


def snapshot() -> dict[str, str]:
    """A digest of every table's content, read as the superuser (RLS hides nothing).

    ``last_used_at`` of API tokens moves on reads (at most once a minute) by design.
    """
    database = make_url(db.engine.url).database
    conn = _admin.get(database)
    if conn is None or conn.closed:
        dsn = pg.ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
        conn = _admin[database] = psycopg.connect(dsn, autocommit=True)
    parts = []
    for table in Base.metadata.sorted_tables:
        row = (
            "(to_jsonb(t) - 'last_used_at')::text"
            if table.name == "api_tokens"
            else "to_jsonb(t)::text"
        )
        parts.append(
            f"SELECT '{table.name}', count(*) || ':' || md5(coalesce(string_agg({row}, '|'"
            f" ORDER BY {row}), '')) FROM \"{table.name}\" t"
        )
    return dict(conn.execute(" UNION ALL ".join(parts)).fetchall())


def reset_world() -> World:
    db.session.remove()
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    return build_world()


class Raised:
    def __init__(self, exc: Exception) -> None:
        self.status_code = 599
        self.exc = exc


def send(client, method: str, url: str, **kwargs):  # noqa: ANN001, ANN003, ANN201
    try:
        return client.open(url, method=method, **kwargs)
    except Exception as exc:  # noqa: BLE001 - TESTING propagates; reported as a 5xx
        db.session.rollback()
        return Raised(exc)


def describe(response) -> str:  # noqa: ANN001
    if isinstance(response, Raised):
        return f"raised {response.exc!r}"[:400]
    return str(response.status_code)


def rules(app, methods: set[str]):  # noqa: ANN001, ANN201
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            if method in methods:
                yield rule, method


def fill(rule, world: World) -> str | None:  # noqa: ANN001
    url, _problems = _fill(rule, world.slug, world.objects)
    if url is not None and rule.endpoint == "invitations.accept":
        url = f"/invitations/{world.invite_token}"
    return url


@pytest.fixture
def world(app, database_url) -> World:
    return build_world()


# -- every GET as every role ----------------------------------------------------------------


GARBAGE_QUERY = {
    "limit": ["-1", "0", "99999999999999999999", "nope", NUL],
    "cursor": ["nope", "!!!", LONG, NUL, "WyJhIiwgIm5vcGUiXQ"],
    "status": ["nope", NUL, LONG],
    "next": ["//evil.example", NUL, LONG],
    "network": ["nope", NUL, LONG],
}


def test_every_get_route_answers_below_500_for_every_role(app, world):
    problems: list[str] = []
    answered: set[str] = set()
    for role in (*ROLES, "anonymous"):
        web = app.test_client()
        if role != "anonymous":
            sign_in(web, world.users[role])
        headers = bearer(world.tokens[role]) if role != "anonymous" else {}
        for rule, method in rules(app, {"GET"}):
            url = fill(rule, world)
            if url is None:
                continue
            is_api = rule.rule.startswith("/api/")
            response = send(web, method, url, headers=headers if is_api else {})
            if role == "owner" and response.status_code == 200:
                answered.add(rule.endpoint)
            if response.status_code >= 500:
                problems.append(f"{role}: GET {url} -> {describe(response)}")
    assert not problems, "\n".join(problems)


def test_every_get_route_survives_garbage_query_strings_and_slugs(app, world):
    web = app.test_client()
    sign_in(web, world.users["owner"])
    headers = bearer(world.tokens["owner"])
    problems: list[str] = []
    for rule, method in rules(app, {"GET"}):
        url = fill(rule, world)
        if url is None:
            continue
        is_api = rule.rule.startswith("/api/")
        for name, values in GARBAGE_QUERY.items():
            for value in values:
                response = send(
                    web, method, url, query_string={name: value}, headers=headers if is_api else {}
                )
                if response.status_code >= 500:
                    problems.append(f"GET {url}?{name}={value[:20]!r} -> {describe(response)}")
        if "<agency_slug>" in rule.rule:
            for slug in (NUL, LONG, UNICODE, "%", "a/../b"):
                bad, _ = _fill(rule, slug, world.objects)
                response = send(web, method, bad)
                if response.status_code >= 500:
                    problems.append(f"GET {rule.rule} slug={slug[:20]!r} -> {describe(response)}")
    assert not problems, "\n".join(problems)


# -- every write with empty and hostile bodies -----------------------------------------------


class FormParser(HTMLParser):
    """The POST forms of a page: their action and what a browser would submit unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields = []
            self.forms.append((a.get("action", ""), self._fields))
        if self._fields is None or not a.get("name") and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "file" or (kind in ("checkbox", "radio") and "checked" not in a):
                return
            self._fields.append((a["name"], a.get("value", "y" if kind == "checkbox" else "")))
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._fields.append((a["name"], ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._fields:
            self._fields[-1] = (self._textarea, self._fields[-1][1] + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None and self._fields is not None:
            chosen = [v for v, selected in self._options if selected] or [
                v for v, _s in self._options[:1]
            ]
            self._fields.extend((self._select, v) for v in chosen)
            self._select = None


def page_forms(app, world: World) -> dict[str, list[list[tuple[str, str]]]]:  # noqa: ANN001
    """Form action path -> the untouched submissions of the forms that post there."""
    web = app.test_client()
    sign_in(web, world.users["owner"])
    forms: dict[str, list[list[tuple[str, str]]]] = {}
    for rule, _method in rules(app, {"GET"}):
        url = fill(rule, world)
        if url is None or rule.rule.startswith(("/api/", "/static", "/bootstrap")):
            continue
        response = send(web, "GET", url)
        if getattr(response, "mimetype", "") != "text/html":
            continue
        parser = FormParser()
        parser.feed(response.get_data(as_text=True))
        for action, fields in parser.forms:
            target = urlsplit(action or url).path
            submitted = [(k, v) for k, v in fields if k != "csrf_token"]
            if submitted not in forms.setdefault(target, []):
                forms[target].append(submitted)
    return forms


WEB_GARBAGE = [LONG, NUL, UNICODE, "nope", "-1", '{"a": {"b": 1}}']


def web_bodies(baselines: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """Empty; then each form with one field at a time made hostile (the rest left valid)."""
    generic = ("role", "client_ids", "locale", "next", "network", "action", "status", "name")
    bodies: list[list[tuple[str, str]]] = [[]]
    bodies += [[(name, value) for name in generic] for value in WEB_GARBAGE]
    for baseline in baselines:
        for index, (name, _value) in enumerate(baseline):
            for value in WEB_GARBAGE:
                body = list(baseline)
                body[index] = (name, value)
                bodies.append(body)
    return bodies


def api_body_fields(app) -> dict[tuple[str, str], dict]:  # noqa: ANN001
    """OpenAPI request-body properties per (OpenAPI path, METHOD), with $refs resolved."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    def resolve(node: dict) -> dict:
        if "$ref" in node:
            return resolve(schemas[node["$ref"].rsplit("/", 1)[-1]])
        return {k: (resolve(v) if k == "items" else v) for k, v in node.items()}

    out: dict[tuple[str, str], dict] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if not isinstance(op, dict):
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if body:
                props = resolve(body["schema"]).get("properties", {})
                out[(path, method.upper())] = {
                    k: resolve(v) for k, v in props.items() if not v.get("readOnly")
                }
    return out


def api_baselines(world: World) -> dict[tuple[str, str], list[dict]]:
    """A valid body per API write route; one field at a time is then made hostile."""
    acme = str(world.objects["client"])
    policy = {
        "internal_review": True,
        "client_approval": "any",
        "approver_ids": [str(world.users["client_manager"].id)],
        "reply_policy": "same",
        "lead_time_hours": 24,
        "reminder_hours": [4],
        "late_rule": "hold",
    }
    return {
        ("/api/v1/signup", "POST"): [
            {
                "agency_name": "Fresh Agency",
                "name": "Fresh Person",
                "email": "fresh@example.com",
                "password": PASSWORD,
            }
        ],
        ("/api/v1/tokens", "POST"): [
            {
                "email": world.users["owner"].email,
                "password": PASSWORD,
                "agency": world.slug,
                "name": "cli",
            }
        ],
        ("/api/v1/clients", "POST"): [
            {"name": "Umbrella", "country": "DE", "currency": "EUR", "timezone": "Europe/Berlin"}
        ],
        ("/api/v1/clients/{client_id}", "PATCH"): [{"name": "Acme Renamed", "address": "Via 1"}],
        ("/api/v1/clients/{client_id}/approval-policy", "PUT"): [policy],
        ("/api/v1/clients/{client_id}/channels", "POST"): [
            {
                "network": "mastodon",
                "name": "Toots",
                "settings": {"instance_url": "https://m.example", "access_token": "tok"},
            },
            {
                "network": "bluesky",
                "name": "Sky",
                "settings": {"handle": "acme.bsky.social", "app_password": "pw"},
            },
            {
                "network": "facebook_page",
                "name": "FB",
                "settings": {"page_id": "123", "access_token": "tok"},
            },
        ],
        ("/api/v1/clients/{client_id}/channels/{channel_id}", "PATCH"): [{"name": "Renamed"}],
        ("/api/v1/invitations", "POST"): [
            {"email": "new@example.com", "role": "staff", "assigned_client_ids": [acme]},
            {"email": "boss@example.com", "role": "client_manager", "client_id": acme},
        ],
        ("/api/v1/invitations/accept", "POST"): [
            {"token": world.invite_token, "name": "New Person", "password": PASSWORD}
        ],
        ("/api/v1/members/{membership_id}", "PATCH"): [{"role": "staff"}],
        ("/api/v1/agency", "PATCH"): [{"name": "Rich Agency Renamed", "country": "DE"}],
        **content_baselines(world),
    }


def content_baselines(world: World) -> dict[tuple[str, str], list[dict]]:
    post = "/api/v1/posts/{post_id}"
    channel = str(world.objects["content_channel"])
    return {
        ("/api/v1/posts", "POST"): [
            {"client_id": str(world.objects["client"]), "body": "New", "channel_ids": [channel]}
        ],
        (post, "PATCH"): [{"body": "Edited", "variants": {channel: "Variant"}}],
        (f"{post}/submit", "POST"): [{}],
        (f"{post}/approve", "POST"): [{"comment": "Fine", "revision": 1}],
        (f"{post}/request-changes", "POST"): [{"comment": "Shorter", "revision": 1}],
        (f"{post}/reject", "POST"): [{"comment": "No", "revision": 1}],
        (f"{post}/archive", "POST"): [{"comment": "Old"}],
        (f"{post}/comments", "POST"): [{"body": "Nice", "visibility": "internal"}],
        ("/api/v1/inbox", "POST"): [
            {
                "channel_id": channel,
                "author": "@fan",
                "body": "Hello?",
                "url": "https://x.example/1",
            }
        ],
        ("/api/v1/inbox/{item_id}/reply", "POST"): [{"body": "Hello!"}],
    }


def _typed_garbage(prop: dict) -> list[object]:
    """Values of the right JSON type but hostile content, so they reach the services."""
    kind = prop.get("type")
    if kind == "string":
        if prop.get("format") == "uuid":
            return ["nope", NUL, LONG, str(uuid.uuid4())]
        return [LONG, NUL, UNICODE, "   ", "nope", "\ud800"]
    if kind == "integer":
        return [-1, 2**63, -(2**70)]
    if kind == "boolean":
        return [True, False]
    if kind == "array":
        return [[v] for v in _typed_garbage(prop.get("items", {}))] + [[LONG] * 3, [1] * 500]
    if kind == "object":
        keys = ("access_token", "instance_url", "handle", "url", "page_id", "pds_url", "nope")
        return [
            {k: LONG for k in keys},
            {k: NUL for k in keys},
            {k: {"nested": [1]} for k in keys},
            {k: -1 for k in keys},
            {NUL: "x", LONG: "y"},
        ]
    return [LONG, NUL, {"a": [1]}]


UNTYPED_GARBAGE: list[object] = [LONG, "nope", 12345, -1, NUL, {"a": {"b": [1]}}, [1, [2]], None]


def api_bodies(props: dict, baselines: list[dict]) -> list[object]:
    bodies: list[object] = [{}, [], "nope", 7, None]
    bodies += [{k: value for k in props} for value in UNTYPED_GARBAGE]
    for baseline in baselines:
        for name, prop in props.items():
            for value in _typed_garbage(prop):
                bodies.append({**baseline, name: value})
            if isinstance(baseline.get(name), dict):
                # Inside a valid object (channel settings): one key at a time.
                for key in baseline[name]:
                    for value in (LONG, "x" * 4000, NUL, UNICODE, "nope", -1, {"a": [1]}):
                        bodies.append({**baseline, name: {**baseline[name], key: value}})
    return bodies


def _openapi_path(rule: str) -> str:
    return PARAM_RE.sub(lambda m: "{" + m.group(2) + "}", rule)


def test_every_write_route_refuses_empty_and_hostile_bodies_without_writing(app, world):
    forms = page_forms(app, world)
    api_fields = api_body_fields(app)
    problems: list[str] = []
    succeeded: list[str] = []

    def session() -> tuple:
        web = app.test_client()
        sign_in(web, world.users["owner"])
        return web, csrf_token(web)

    web, csrf = session()
    baselines = api_baselines(world)
    for rule, method in rules(app, {"POST", "PUT", "PATCH", "DELETE"}):
        is_api = rule.rule.startswith(("/api/", "/webhooks/"))
        url = fill(rule, world)
        assert url is not None, rule.rule
        if is_api:
            key = (_openapi_path(rule.rule), method)
            if key in api_fields and key not in baselines:
                problems.append(f"{key}: add a valid body to api_baselines()")
            bodies = api_bodies(api_fields.get(key, {}), baselines.get(key, []))
        else:
            bodies = web_bodies(forms.get(url, []))
        for index, body in enumerate(bodies):
            if (
                index > 2
                and succeeded
                and succeeded[-1].startswith(f"{method} {rule.rule} body #0 ")
            ):
                break  # an action that takes no input: a couple of hostile bodies suffice
            url = fill(rule, world)
            before = snapshot()
            if is_api:
                headers = bearer(world.tokens["owner"])
                response = send(web, method, url, json=body, headers=headers)
            else:
                data = MultiDict([("csrf_token", csrf), *body])
                response = send(web, method, url, data=data, headers={"X-CSRFToken": csrf})
            label = f"{method} {rule.rule} body #{index} {str(body)[:160]!r}"
            if response.status_code >= 500:
                problems.append(f"{label} -> {describe(response)}")
            elif response.status_code < 400:
                # A legitimate success (valid values, or an action that needs no body):
                # start again from a fresh agency so later requests meet the same state.
                succeeded.append(f"{label} -> {response.status_code}")
                if snapshot() != before:
                    world = reset_world()
                baselines = api_baselines(world)
                web, csrf = session()
            else:
                after = snapshot()
                changed = sorted(t for t in before if before[t] != after[t])
                if changed:
                    problems.append(f"{label} -> {response.status_code} but wrote {changed}")
    print("\n".join(["legitimate successes:", *succeeded]))
    assert not problems, "\n".join(problems)


def test_hostile_json_documents_are_refused_cleanly(app, world):
    """Malformed, deeply nested, NUL or lone-surrogate JSON: a 4xx that writes nothing."""
    client = app.test_client()
    headers = {**bearer(world.tokens["owner"]), "Content-Type": "application/json"}
    documents = [
        "{",
        "[" * 100_000 + "]" * 100_000,
        '{"name": "a\\u0000b"}',
        '{"name": "\\ud800"}',
        '{"a\\u0000": 1}',
        "\xff\xfe",
        '{"name": 1e999999}',
    ]
    with_body = api_body_fields(app)
    problems = []
    for rule, method in rules(app, {"POST", "PUT", "PATCH"}):
        if (_openapi_path(rule.rule), method) not in with_body:
            continue
        url = fill(rule, world)
        for doc in documents:
            before = snapshot()
            response = send(client, method, url, data=doc, headers=headers)
            if response.status_code >= 500 or response.status_code < 400:
                problems.append(f"{method} {rule.rule} {doc[:20]!r} -> {describe(response)}")
            elif snapshot() != before:
                problems.append(f"{method} {rule.rule} {doc[:20]!r} wrote something")
            elif response.get_json().get("code") != response.status_code:
                problems.append(f"{method} {rule.rule} {doc[:20]!r}: not the API error shape")
    assert not problems, "\n".join(problems)
