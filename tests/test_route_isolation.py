"""Every registered route, requested by another agency's owner, answers 404 and changes nothing.

The test walks ``app.url_map`` so routes added later are covered without editing it. A new
route must be reachable by the rules below, or be listed in ``NO_TENANT_OBJECT`` with the
reason it carries no tenant object; an id parameter must be named in ``ID_KINDS``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from agency.db import Base, db, utcnow
from tenants.context import tenant_context
from tenants.models import ApiToken, Invitation, Membership, Role
from tests import pg
from tests.content_helpers import content_objects
from tests.factories import make_agency, make_client, make_member, owner_of, token_for
from tests.helpers import bearer

IGNORED_METHODS = {"HEAD", "OPTIONS"}

# Routes with no tenant object in the URL, by endpoint, with the reason.
NO_TENANT_OBJECT = {
    "static": "the app's static files",
    "bootstrap.static": "Bootstrap's static files",
    "apidocs.index": "API browser page, same for everyone",
    "apidocs.asset": "API browser assets",
    "api-docs.openapi_json": "the OpenAPI document, same for everyone",
    "health.healthz": "liveness probe",
    "health.readyz": "readiness probe",
    "auth.home": "redirects to the user's own agencies",
    "auth.login": "login form, before any agency is known",
    "auth.logout": "ends the caller's own session",
    "auth.signup": "creates a new agency",
    "auth.agencies": "lists the caller's own agencies",
    "auth.account": "the caller's own profile",
    "auth.tokens": "the caller's own tokens (agency choice pinned by test_token_page_...)",
    "auth.set_locale": "the caller's own language",
    "accounts.Signup": "creates a new agency",
    "accounts.Tokens": "credentials in, token out; membership checked (test_api_accounts)",
    "invitations.accept": "reached by a secret single-use token, not by a tenant id",
    "review.page": "magic-link review, reached by a secret per-person token (test_content_links)",
    "review.image": "magic-link review images, behind the same token (test_content_links)",
    "mail.outbox": "demo-only outbox of e-mail files (404 unless enabled)",
    "mail.message": "demo-only outbox of e-mail files (404 unless enabled)",
    "mail.message_html": "demo-only outbox of e-mail files (404 unless enabled)",
}

# How to find agency A's object for an id parameter: by parameter name, and for a bare
# ``id`` by the path segment before it. Add new kinds here (and to ``rich_agency``).
ID_KINDS = {
    "client_id": "client",
    "channel_id": "channel",
    "membership_id": "membership",
    "member_id": "membership",
    "invitation_id": "invitation",
    "token_id": "token",
    "policy_id": "approval_policy",
    "post_id": "post",
    "item_id": "inbox_item",
}
SEGMENT_KINDS = {
    "clients": "client",
    "channels": "channel",
    "members": "membership",
    "memberships": "membership",
    "invitations": "invitation",
    "tokens": "token",
}
PARAM_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass
class Tenant:
    agency: object
    slug: str
    owner_email: str
    token: str
    objects: dict[str, uuid.UUID]


def _try_add(kind: str, objects: dict, build) -> None:  # noqa: ANN001
    """Build an object of a kind whose model may not exist yet (features land over time)."""
    try:
        objects[kind] = build()
    except ImportError:
        return


def _build_tenant(name: str) -> Tenant:
    agency = make_agency(name)
    owner = owner_of(agency)
    client = make_client(agency, f"{name} Client", legal_name=f"{name} Client S.r.l.")
    staff = make_member(agency, Role.STAFF, assigned=[client])
    make_member(agency, Role.CLIENT_MANAGER, client=client)
    token = token_for(owner, agency)
    objects: dict[str, uuid.UUID] = {"client": client.id}
    objects["membership"] = db.session.scalar(
        Membership.__table__.select()
        .with_only_columns(Membership.id)
        .where(Membership.user_id == staff.id, Membership.agency_id == agency.id)
    )
    objects["token"] = db.session.scalar(
        ApiToken.__table__.select()
        .with_only_columns(ApiToken.id)
        .where(ApiToken.prefix == token[:10])
    )

    def channel() -> uuid.UUID:
        from agency.channels.models import Channel

        with tenant_context(agency.id):
            row = Channel(client_id=client.id, network="manual", name=f"{name} Channel")
            db.session.add(row)
            db.session.commit()
        return row.id

    def approval_policy() -> uuid.UUID:
        from agency.workflow.models import ApprovalPolicy

        with tenant_context(agency.id):
            row = ApprovalPolicy(client_id=client.id)
            db.session.add(row)
            db.session.commit()
        return row.id

    def invitation() -> uuid.UUID:
        row = Invitation(
            agency_id=agency.id,
            email=f"invitee@{agency.slug}.example",
            role=Role.STAFF.value,
            token_hash=uuid.uuid4().hex,
            invited_by_id=owner.id,
            expires_at=utcnow() + timedelta(days=7),
        )
        db.session.add(row)
        db.session.commit()
        return row.id

    _try_add("channel", objects, channel)
    _try_add("approval_policy", objects, approval_policy)
    _try_add("invitation", objects, invitation)
    objects.update(content_objects(agency, client, owner))
    return Tenant(agency, agency.slug, owner.email, token, objects)


@pytest.fixture
def tenants(app, database_url) -> tuple[Tenant, Tenant]:
    return _build_tenant("Agency A"), _build_tenant("Agency B")


def _superuser_snapshot(agency_id: uuid.UUID) -> dict[str, list[tuple]]:
    """Every row that belongs to agency A, read as the superuser (RLS does not hide any)."""
    database = make_url(db.engine.url).database
    dsn = pg.ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
    snapshot: dict[str, list[tuple]] = {}
    with psycopg.connect(dsn) as conn:
        for table in Base.metadata.sorted_tables:
            if "agency_id" in table.c:
                rows = conn.execute(
                    f'SELECT * FROM "{table.name}" WHERE agency_id = %s ORDER BY 1', (agency_id,)
                ).fetchall()
                snapshot[table.name] = [tuple(map(str, row)) for row in rows]
        snapshot["agencies"] = conn.execute(
            "SELECT * FROM agencies WHERE id = %s", (agency_id,)
        ).fetchall()
        snapshot["users"] = conn.execute(
            "SELECT u.* FROM users u JOIN memberships m ON m.user_id = u.id"
            " WHERE m.agency_id = %s ORDER BY u.id",
            (agency_id,),
        ).fetchall()
    return snapshot


def _kind_for(rule: str, name: str) -> str | None:
    if name in ID_KINDS:
        return ID_KINDS[name]
    before = rule.split(f"<{name}>")[0] if f"<{name}>" in rule else rule.split(f":{name}>")[0]
    segment = before.rstrip("/").rsplit("/", 1)[-1]
    segment = re.sub(r"<[^>]*$", "", segment).rstrip("/").rsplit("/", 1)[-1]
    return SEGMENT_KINDS.get(segment)


def _is_id_param(converter: str | None, name: str) -> bool:
    return converter == "uuid" or name == "id" or name.endswith("_id")


def _fill(rule, slug: str, objects: dict[str, uuid.UUID]) -> tuple[str | None, list[str]]:
    """The URL of ``rule`` with agency ``slug`` and ``objects``; or None and the problems."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for converter, name in PARAM_RE.findall(rule.rule):
        if name == "agency_slug":
            values[name] = slug
        elif _is_id_param(converter, name):
            kind = _kind_for(rule.rule, name)
            if kind is None:
                problems.append(
                    f"{rule.rule}: id parameter <{name}> has no object kind; add it to ID_KINDS"
                    " (or SEGMENT_KINDS) in tests/test_route_isolation.py"
                )
            elif kind not in objects:
                problems.append(
                    f"{rule.rule}: no {kind!r} object in rich agency A; build one in _build_tenant"
                )
            else:
                values[name] = str(objects[kind])
        else:
            values[name] = str(objects.get(f"param:{name}", "x"))  # e.g. a post's image "ref"
    if problems:
        return None, problems
    url = PARAM_RE.sub(lambda m: values[m.group(2)], rule.rule)
    return url, []


def _has_object_ids(rule) -> bool:
    return any(_is_id_param(c, n) for c, n in PARAM_RE.findall(rule.rule) if n != "agency_slug")


def _csrf_token(client) -> str:
    html = client.get("/account").get_data(as_text=True)
    match = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on /account"
    return match.group(1)


class _Raised:
    """A request that raised instead of answering (TESTING propagates exceptions)."""

    def __init__(self, exc: Exception) -> None:
        self.status_code = f"an exception: {exc!r}"

    def get_data(self, as_text: bool = False) -> str:
        return ""


def _request(client, method: str, url: str, *, api: bool, auth: dict, csrf: str | None):
    try:
        return _send(client, method, url, api=api, auth=auth, csrf=csrf)
    except Exception as exc:  # noqa: BLE001 - reported with the route, then the test fails
        db.session.rollback()
        return _Raised(exc)


def _send(client, method: str, url: str, *, api: bool, auth: dict, csrf: str | None):
    if api:
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        return client.open(url, method=method, json=body, headers=auth)
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": csrf}, headers={"X-CSRFToken": csrf})


def _rejected_before_lookup(response, client, method: str, rule, auth: dict, api: bool) -> bool:
    """An API body refused (422) before any lookup: the same answer as for an id that
    exists nowhere, so it reveals nothing about agency A."""
    if not api or response.status_code != 422:
        return False
    nowhere = {kind: uuid.uuid4() for kind in set(ID_KINDS.values()) | set(SEGMENT_KINDS.values())}
    url, _ = _fill(rule, "nowhere", nowhere)
    other = _request(client, method, url, api=True, auth=auth, csrf=None)
    return other.status_code == 422 and other.get_data() == response.get_data()


def test_every_route_hides_agency_a_from_agency_b(app, tenants, auth):
    a, b = tenants
    web = app.test_client()
    login = auth.__class__(web).login(b.owner_email)
    assert login.status_code == 302, "agency B's owner signs in"
    csrf = _csrf_token(web)
    api_client = app.test_client()
    b_auth = bearer(b.token)
    before = _superuser_snapshot(a.agency.id)

    problems: list[str] = []
    checked: list[str] = []
    positive: list[tuple[str, str, bool]] = []
    a_ids = {str(v) for v in a.objects.values()} | {str(a.agency.id)}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = sorted((rule.methods or set()) - IGNORED_METHODS)
        is_api = rule.rule.startswith("/api/")
        under_agency = "<agency_slug>" in rule.rule
        with_ids = _has_object_ids(rule)
        if rule.endpoint in NO_TENANT_OBJECT:
            continue
        if not (is_api or under_agency or with_ids):
            problems.append(
                f"{rule.rule} ({rule.endpoint}) is neither checked nor allow-listed: put it under"
                " /a/<agency_slug>/ or add it to NO_TENANT_OBJECT with the reason"
            )
            continue
        url_a, fill_problems = _fill(rule, a.slug, a.objects)
        problems.extend(fill_problems)
        if url_a is None:
            continue
        for method in methods:
            label = f"{method} {rule.rule}"
            if under_agency or with_ids:
                # B's member, A's slug and A's objects.
                response = _request(
                    api_client if is_api else web,
                    method,
                    url_a,
                    api=is_api,
                    auth=b_auth,
                    csrf=csrf,
                )
                if response.status_code != 404 and not _rejected_before_lookup(
                    response, api_client, method, rule, b_auth, is_api
                ):
                    problems.append(f"{label} as agency B answered {response.status_code}, not 404")
                if under_agency and with_ids:
                    # B's own slug, A's objects: the object lookup itself must be scoped.
                    url_b, _ = _fill(rule, b.slug, a.objects)
                    response = _request(web, method, url_b, api=False, auth=b_auth, csrf=csrf)
                    if response.status_code != 404:
                        problems.append(
                            f"{label} in agency B with A's ids answered {response.status_code}"
                        )
                if method == "GET" and with_ids:
                    positive.append((url_a, label, is_api))
            else:
                # An API collection: B sees and touches only B.
                response = _request(api_client, method, url_a, api=True, auth=b_auth, csrf=None)
                body = response.get_data(as_text=True)
                if not isinstance(response.status_code, int) or response.status_code >= 500:
                    problems.append(f"{label} as agency B answered {response.status_code}")
                leaked = sorted(i for i in a_ids if i in body)
                if leaked:
                    problems.append(f"{label} as agency B shows agency A's ids {leaked}")
            checked.append(label)

    print(f"checked {len(checked)} route methods, {len(positive)} controls")
    assert not problems, "\n".join(problems)
    assert any("/a/<agency_slug>/" in c for c in checked)
    assert _superuser_snapshot(a.agency.id) == before, "agency B's requests changed agency A"

    # Control: A's own owner reaches the same object URLs: the 404s above come from isolation.
    a_web = app.test_client()
    assert auth.__class__(a_web).login(a.owner_email).status_code == 302
    for url, label, is_api in positive:
        response = api_client.get(url, headers=bearer(a.token)) if is_api else a_web.get(url)
        assert response.status_code != 404, f"{label}: agency A's owner got 404 for {url}"


def test_agency_a_data_untouched_by_b_explicit_field(app, tenants):
    a, _ = tenants
    with tenant_context(a.agency.id):
        names = db.session.execute(text("SELECT name, legal_name FROM client_companies")).all()
    assert [tuple(r) for r in names] == [("Agency A Client", "Agency A Client S.r.l.")]


def test_every_allow_listed_endpoint_still_exists(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted(e for e in NO_TENANT_OBJECT if e not in endpoints and not e.startswith("mail."))
    assert not stale or all(e.startswith(("invitations.", "mail.")) for e in stale), stale


def test_token_page_cannot_issue_a_token_for_another_agency(app, tenants, auth):
    a, b = tenants
    web = app.test_client()
    assert auth.__class__(web).login(b.owner_email).status_code == 302
    page = web.get("/account/tokens")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert a.slug not in html
    csrf = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html).group(1)
    before = _superuser_snapshot(a.agency.id)
    response = web.post(
        "/account/tokens", data={"csrf_token": csrf, "agency": a.slug, "name": "sneaky"}
    )
    assert response.status_code == 422
    assert _superuser_snapshot(a.agency.id) == before
