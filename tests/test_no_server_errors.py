"""No route answers 5xx, whoever asks and whatever they send; refused input writes nothing.

The tests walk ``app.url_map`` (ids filled as ``tests/test_route_isolation.py`` does), so
routes added later are covered without editing this file. Bodies are derived generically:
web forms from the ``name=`` attributes of the app's own pages, API bodies from the
OpenAPI document, each field filled with hostile values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from agency.web.input_guard import reject_unstorable_input
from tests import secret_guard
from tests.bodies import API, WEB
from tests.helpers import bearer
from tests.test_role_sweep import TABLE
from tests.world import (
    PARAM_RE,
    World,
    WriteWatch,
    build_world,
    changed_tables,
    close_admin_connections,
    csrf_token,
    describe,
    fill,
    reset_world,
    route_methods,
    send,
    sign_in_as,
    snapshot,
    world_url,
)

LONG = "x" * 10_000
NUL = "bad\x00value"
UNICODE = "Zoë 🙂 \u202eevil\u202c ﷽"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def rules(app, methods: set[str]):  # noqa: ANN001, ANN201
    return route_methods(app, methods)


@pytest.fixture(scope="module", autouse=True)
def _close_admin_connections() -> Iterator[None]:
    yield
    close_admin_connections()


@pytest.fixture
def world(app, database_url) -> World:
    return build_world()


# -- every GET with garbage in its query string -----------------------------------------------
#
# (Every GET as every role is the roles sweep's: tests/test_role_sweep.py sends each route as
# each role and checks the exact status, so a 5xx fails there.)


# NUL under one name only: the input guard refuses it in any query parameter before the view
# runs, the same way whatever the name (tests/test_bad_input.py), so one per route suffices.
GARBAGE_QUERY = {
    "limit": ["-1", "0", "99999999999999999999", "nope", NUL],
    "cursor": ["nope", "!!!", LONG, "WyJhIiwgIm5vcGUiXQ"],
    "status": ["nope", LONG],
    "next": ["//evil.example", LONG],
    "network": ["nope", LONG],
    "lang": ["nope", "xx", LONG, "../it"],
}
#: Names every page reads through the app's shared hooks (``lang``: the language of the e-mail
#: whose link opened the page, read by ``select_locale``): their garbage goes in the
#: all-at-once queries of every route (values taking turns from route to route), not one
#: request per value and page. (The review pages also read ``lang`` for their links; the
#: sweep reaches them only with a token that does not exist.)
SHARED_NAMES = {"lang"}
#: For the other names a route reads (dates, periods, ids, views, flags).
GENERIC_GARBAGE = ["nope", "-1", "99999999999999999999", "2026-13-45", "!!!", LONG]


def test_every_get_route_survives_garbage_query_strings_and_slugs(app, world):
    """Garbage under every query parameter name a route reads (``GARBAGE_QUERY``'s values
    for its names, ``GENERIC_GARBAGE`` for the others: dates, periods, ids, flags), found by
    sending the route once without a query and watching what the view reads. Every route
    also gets all of ``GARBAGE_QUERY`` at once, twice (for code that reads the raw query,
    such as a ``next`` link built from the request's URL, and for ``SHARED_NAMES``), and
    NUL."""
    web = app.test_client()
    sign_in_as(web, world, "owner")
    headers = bearer(world.tokens["owner"])
    problems: list[str] = []
    checked = 0
    read_by: dict[str, set[str]] = {}
    with _args_read_by_views(app) as probe:
        for index, (rule, method) in enumerate(rules(app, {"GET"})):
            url = world_url(rule, world)
            kwargs = {"headers": headers if rule.rule.startswith("/api/") else {}}
            checked += 1
            read = read_by[rule.endpoint] = probe(web, method, url, **kwargs)
            names = read - {_EVERY_NAME}
            if _EVERY_NAME in read:
                names |= set(GARBAGE_QUERY)
            names -= SHARED_NAMES
            # All names at once, twice, each value taking its turn from one route to the next.
            queries = [{"limit": NUL}] + [
                {name: values[(index + i) % len(values)] for name, values in GARBAGE_QUERY.items()}
                for i in (1, 2)
            ]
            queries += [
                {name: value}
                for name in sorted(names)
                for value in GARBAGE_QUERY.get(name, GENERIC_GARBAGE)
            ]
            for query in queries:
                response = send(web, method, url, query_string=query, **kwargs)
                if response.status_code >= 500:
                    shown = {name: value[:20] for name, value in query.items()}
                    problems.append(f"GET {url}?{shown!r} -> {describe(response)}")
    for rule, method in rules(app, {"GET"}):
        if "<agency_slug>" in rule.rule:
            for slug in (NUL, LONG, UNICODE, "%", "a/../b"):
                bad, _ = fill(rule, slug, world.objects)
                response = send(web, method, bad)
                if response.status_code >= 500:
                    problems.append(f"GET {rule.rule} slug={slug[:20]!r} -> {describe(response)}")
    assert checked == len(list(rules(app, {"GET"})))
    assert not problems, "\n".join(problems)
    # The probe sees what views read: lists their filters and paging, a detail page nothing.
    assert {"limit", "cursor", "status"} <= read_by["api-content.Posts"]
    assert {"date", "view", "channel_id"} <= read_by["content.calendar"]
    # (every page reads ``lang``: the language of the e-mail whose link opened it)
    assert read_by["clients.detail"] == {"lang"}, read_by["clients.detail"]


_EVERY_NAME = "*"  # the view iterated over the parameters: it may read any name


@contextmanager
def _args_read_by_views(app):  # noqa: ANN001, ANN202
    """``probe(web, method, url, **kwargs)`` sends the request without a query and returns
    the names of the query parameters read while it ran, from the hook after the input
    guard on (the guard reads every parameter of every request: its reads do not count)."""
    read: set[str] = set()

    class ReadArgs(ImmutableMultiDict):
        def __getitem__(self, key):  # noqa: ANN001, ANN204
            read.add(key)
            return super().__getitem__(key)

        def get(self, key, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
            read.add(key)
            return super().get(key, *args, **kwargs)

        def getlist(self, key, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
            read.add(key)
            return super().getlist(key, *args, **kwargs)

        def __contains__(self, key) -> bool:  # noqa: ANN001
            read.add(key)
            return super().__contains__(key)

    def every(name: str):  # noqa: ANN202
        def method(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            read.add(_EVERY_NAME)
            return getattr(ImmutableMultiDict, name)(self, *args, **kwargs)

        return method

    for name in ("__iter__", "keys", "items", "values", "lists", "listvalues", "to_dict",
                 "__len__", "__bool__", "copy", "__repr__"):  # fmt: skip
        if hasattr(ImmutableMultiDict, name):
            setattr(ReadArgs, name, every(name))

    def track() -> None:
        request.__dict__["args"] = ReadArgs(request.args)
        read.clear()  # what the input guard read does not count

    def probe(web, method: str, url: str, **kwargs) -> set[str]:  # noqa: ANN001, ANN003
        read.clear()
        send(web, method, url, **kwargs)
        return set(read)

    # Right after the input guard: what the app's later hooks read counts too.
    hooks = app.before_request_funcs.setdefault(None, [])
    hooks.insert(hooks.index(reject_unstorable_input) + 1, track)
    try:
        yield probe
    finally:
        hooks.remove(track)


# -- every write with empty and hostile bodies -----------------------------------------------


WEB_GARBAGE = [LONG, NUL, UNICODE, "nope", "-1", '{"a": {"b": 1}}']


def kind(value: object) -> str:
    """A short name for a hostile value, for labels and ``ACCEPTS``."""
    names = {LONG: "long", NUL: "nul", UNICODE: "unicode", "   ": "blank", "\ud800": "surrogate"}
    if isinstance(value, str) and value in names:
        return names[value]
    return repr(value)[:24]


Labeled = list[tuple[str, object]]


def web_bodies(baseline: list[tuple[str, object]]) -> Labeled:
    """Empty; generic hostile fields; then one field at a time made hostile (rest valid)."""
    generic = ("role", "client_ids", "locale", "next", "network", "action", "status", "name")
    bodies: Labeled = [("empty", [])]
    bodies += [(f"all={kind(v)}", [(name, v) for name in generic]) for v in WEB_GARBAGE]
    for index, (name, _value) in enumerate(baseline):
        for value in WEB_GARBAGE:
            body = list(baseline)
            body[index] = (name, value)
            bodies.append((f"{name}={kind(value)}", body))
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


def api_bodies(props: dict, baselines: list[dict]) -> Labeled:
    bodies: Labeled = [("empty", {}), ("list", []), ("string", "nope"), ("number", 7)]
    bodies += [("null", None)]
    bodies += [(f"all={kind(v)}", {k: v for k in props}) for v in UNTYPED_GARBAGE]
    for n, baseline in enumerate(baselines):
        for name, prop in props.items():
            for value in _typed_garbage(prop):
                bodies.append((f"#{n} {name}={kind(value)}", {**baseline, name: value}))
            if isinstance(baseline.get(name), dict):
                # Inside a valid object (channel settings): one key at a time.
                for key in baseline[name]:
                    for value in (LONG, "x" * 4000, NUL, UNICODE, "nope", -1, {"a": [1]}):
                        body = {**baseline, name: {**baseline[name], key: value}}
                        bodies.append((f"#{n} {name}.{key}={kind(value)}", body))
    return bodies


def _openapi_path(rule: str) -> str:
    return PARAM_RE.sub(lambda m: "{" + m.group(2) + "}", rule)


_API_FIELDS: dict = {}


def _api_fields(app) -> dict:  # noqa: ANN001
    if not _API_FIELDS:
        _API_FIELDS.update(api_body_fields(app))
    return _API_FIELDS


def pytest_generate_tests(metafunc) -> None:  # noqa: ANN001
    """One test per write route (endpoint × method) of the roles table, which lists them all."""
    if "write_route" in metafunc.fixturenames:
        routes = sorted(key for key in TABLE if key[1] in WRITES and key not in NOT_JSON_OR_FORM)
        params = [
            pytest.param(
                key,
                id=f"{key[0]}-{key[1]}",
                marks=[pytest.mark.xfail(reason=KNOWN_DEFECTS[key], strict=True)]
                if key in KNOWN_DEFECTS
                else [],
            )
            for key in routes
        ]
        metafunc.parametrize("write_route", params)


# Fields whose hostile-looking values a route may accept and store, with the reason. Any
# other hostile body that writes something is a failure (refusals redirecting with a flash
# message, or re-rendering the form, write nothing and pass).
FREE_TEXT = "free text: any string up to the limit, stored as typed"
ACCEPTS: dict[tuple[str, str], dict[str, str]] = {
    ("accounts.Signup", "POST"): {
        "agency_name": FREE_TEXT, "name": FREE_TEXT, "password": "any long enough password",
    },
    ("auth.signup", "POST"): {
        "agency_name": FREE_TEXT, "name": FREE_TEXT, "password": "any long enough password",
    },
    ("invitations.accept", "POST"): {"name": FREE_TEXT, "password": "any long enough password"},
    ("team-api.InvitationAccept", "POST"): {
        "name": FREE_TEXT, "password": "any long enough password",
    },
    ("auth.account", "POST"): {
        "profile-name": FREE_TEXT,
        "profile-submit": "the submit button's value is not read",
        "all": "only the profile name is generic; the other names are not this form's",
    },
    ("auth.tokens", "POST"): {"name": FREE_TEXT},
    ("api-content.Posts", "POST"): {"body": FREE_TEXT, "variants": FREE_TEXT},
    ("api-content.PostResource", "PATCH"): {"body": FREE_TEXT, "variants": FREE_TEXT},
    ("api-content.PostComments", "POST"): {"body": FREE_TEXT},
    ("api-content.PostArchive", "POST"): {
        "comment": FREE_TEXT, "empty": "archiving takes no input; the comment is optional",
        "all": "unknown fields are ignored; archiving needs none",
    },
    ("api-content.Inbox", "POST"): {
        "author": FREE_TEXT, "body": FREE_TEXT,
        "external_id": "the network's id, as typed (manual entries may have none)",
    },
    ("api-content.InboxReply", "POST"): {"body": FREE_TEXT},
    ("content.create", "POST"): {"body": FREE_TEXT},
    ("content.edit", "POST"): {"body": FREE_TEXT},
    ("content.comment", "POST"): {"body": FREE_TEXT},
    ("inbox.index", "POST"): {"author": FREE_TEXT, "body": FREE_TEXT},
    ("inbox.reply", "POST"): {"body": FREE_TEXT},
    ("recovery.reset", "POST"): {"new_password": "any long enough password"},
    ("agency_settings.edit", "POST"): {
        "settings-name": FREE_TEXT,
        "all": "only 'name' is one of this form's fields (prefixed 'settings-')",
        "empty": "unprefixed fields are ignored: the form is submitted unchanged",
    },
    ("team-api.AgencySettings", "PATCH"): {
        "name": FREE_TEXT, "legal_name": FREE_TEXT, "address": FREE_TEXT,
        "fiscal_code": "optional; free for non-Italian agencies",
        "vat_number": "blank clears the optional field", "tax_regime": "blank clears it",
        "city": FREE_TEXT, "postal_code": "optional; 5 digits in Italy, free elsewhere",
        "province": "optional; two letters in Italy, free text (a region) elsewhere",
        "iban": "blank clears the optional field",
        "empty": "an empty PATCH changes nothing but is audited", "null": "as an empty PATCH",
    },
    ("clients.create", "POST"): {"name": FREE_TEXT, "all": "only 'name' is a client field"},
    ("clients.edit", "POST"): {
        "name": FREE_TEXT, "legal_name": FREE_TEXT,
        "all": "only 'name' is a client field; Acme's stored fiscal data (FatturaPA) is complete",
    },
    ("api-clients.Clients", "POST"): {
        "name": FREE_TEXT, "legal_name": FREE_TEXT, "address": FREE_TEXT,
        "fiscal_code": "optional; free outside Italy", "vat_number": "optional",
        "billing_email": "optional", "country": "blank: the agency's default",
        "pec": "optional", "sdi_code": "optional outside Italy",
        "city": FREE_TEXT, "postal_code": "optional; 5 digits in Italy, free elsewhere",
        "province": "optional; two letters in Italy, free text (a region) elsewhere",
    },
    ("api-clients.ClientResource", "PATCH"): {
        "name": FREE_TEXT, "legal_name": FREE_TEXT, "address": FREE_TEXT,
        "fiscal_code": "optional", "vat_number": "optional", "billing_email": "optional",
        "country": "blank keeps the country", "pec": "optional",
        "city": FREE_TEXT, "postal_code": "optional; 5 digits in Italy, free elsewhere",
        "province": "optional; two letters in Italy, free text (a region) elsewhere",
        "empty": "an empty PATCH changes nothing but is audited", "null": "as an empty PATCH",
    },
    ("channels.create", "POST"): {
        "name": FREE_TEXT, "settings-access_token": "tokens are opaque strings",
    },
    ("channels.edit", "POST"): {
        "name": FREE_TEXT, "settings-access_token": "tokens are opaque strings",
    },
    ("api-channels.Channels", "POST"): {
        "name": FREE_TEXT, "handle": FREE_TEXT,
        # Known gap (input hygiene): numbers and objects are coerced to strings by str().
        "settings": "secrets and handles are opaque strings",
    },
    ("api-channels.ChannelResource", "PATCH"): {
        "name": FREE_TEXT, "handle": FREE_TEXT,
        "empty": "an empty PATCH changes nothing but is audited", "null": "as an empty PATCH",
    },
    ("workflow.policy", "POST"): {"internal_review": "a checkbox: any value means on"},
    ("api-workflow.ApprovalPolicyResource", "PUT"): {
        "internal_review": "a boolean", "empty": "defaults", "null": "defaults",
    },
    ("team-api.Member", "PATCH"): {
        "active": "a boolean", "empty": "an empty PATCH", "null": "as an empty PATCH",
    },
    ("team.assignments", "POST"): {"empty": "no client ids: the member is assigned none"},
    ("auth.set_locale", "POST"): {"next": "never stored: an unsafe target falls back to home"},
    ("billing.add_line", "POST"): {
        "description": FREE_TEXT, "unit_amount": "a negative price is a discount line",
    },
    ("billing_setup.time", "POST"): {"description": FREE_TEXT},
    ("api-billing.TimeEntries", "POST"): {"description": FREE_TEXT},
}  # fmt: skip

# Write routes this sweep cannot feed (it sends JSON or form fields), with where they are tested.
NOT_JSON_OR_FORM = {
    ("api-content.ClientMedia", "POST"): "a multipart image upload: hostile files (wrong type, "
    "too big, not an image) are refused in tests/test_content_media.py",
}

# Routes where the sweep found a real defect, left failing on purpose until it is fixed.
KNOWN_DEFECTS: dict[tuple[str, str], str] = {}


def _bodies(rule, method: str, world: World, app) -> Labeled:  # noqa: ANN001
    key = (rule.endpoint, method)
    if rule.rule.startswith(("/api/", "/webhooks/")):
        props = _api_fields(app).get((_openapi_path(rule.rule), method), {})
        assert not props or key in API, f"{key}: add a valid body to API in tests/bodies.py"
        return api_bodies(props, API[key](world) if key in API else [])
    return web_bodies(WEB[key](world))


def _takes_no_input(endpoint: str, method: str, world: World) -> bool:
    if (endpoint, method) in API:
        return API[(endpoint, method)](world) == [None]
    return WEB[(endpoint, method)](world) == []


def test_write_route_refuses_empty_and_hostile_bodies_without_writing(app, world, write_route):
    endpoint, method = write_route
    rule = next(r for r, m in rules(app, {method}) if r.endpoint == endpoint)
    is_api = rule.rule.startswith(("/api/", "/webhooks/"))
    accepts = ACCEPTS.get(write_route, {})
    no_input = _takes_no_input(endpoint, method, world)
    problems: list[str] = []
    successes: list[str] = []

    def session() -> tuple:
        web = app.test_client()
        sign_in_as(web, world, "owner")
        return web, (None if is_api else csrf_token(web))

    web, csrf = session()
    count = len(_bodies(rule, method, world, app))
    if no_input:
        count = min(count, 3)  # an action that takes no input: a few hostile bodies suffice
    with WriteWatch() as watch:
        state = snapshot()
        for index in range(count):
            label, body = _bodies(rule, method, world, app)[index]  # fresh ids and files each
            url = world_url(rule, world)
            mark = watch.writes
            with secret_guard.not_learning():
                if is_api:
                    headers = bearer(world.tokens["owner"])
                    response = send(web, method, url, json=body, headers=headers)
                else:
                    data = MultiDict([("csrf_token", csrf), *body])
                    response = send(web, method, url, data=data, content_type="multipart/form-data")
            after = watch.state_after(state, mark)
            changed = changed_tables(state, after)
            what = f"{method} {rule.rule} {label}"
            if response.status_code >= 500:
                problems.append(f"{what} -> {describe(response)}")
            elif response.status_code < 400 and changed:
                field = label.split("=", 1)[0].split(" ")[-1].split(".")[0]
                if not (no_input or field in accepts):
                    problems.append(f"{what} -> {response.status_code}: hostile input stored")
                successes.append(what)
                if changed:
                    # Start again from a fresh agency so later requests meet the same state.
                    world = reset_world()
                web, csrf = session()
                after = snapshot()
            elif response.status_code >= 400 and changed:
                problems.append(f"{what} -> {response.status_code} but wrote {changed}")
            state = after
        watch.settled(state)
    assert count >= 3, f"{what}: only {count} bodies"
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
    with_body = _api_fields(app)
    problems = []
    for rule, method in rules(app, {"POST", "PUT", "PATCH"}):
        if (_openapi_path(rule.rule), method) not in with_body:
            continue
        url = world_url(rule, world)
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
