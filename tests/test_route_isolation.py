"""Every registered route, requested by another agency, answers 404 and changes nothing —
with both tenancy layers, with RLS alone (ORM scoping switched off) and with ORM scoping
alone (the app connected as a role with BYPASSRLS).

The test walks ``app.url_map`` so routes added later are covered without editing it. A new
route must be reachable by the rules below, or be listed in ``NO_TENANT_OBJECT`` with the
reason it carries no tenant object; an id parameter must be named in ``tests/world.py``'s
``ID_KINDS``. Writes carry their valid body (``tests/bodies.py``), so a 422 about the body
cannot hide a missing lookup: 404 is the only acceptable answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Uuid, bindparam, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from agency.db import Base, db
from tenants import scoping
from tenants.context import tenant_context
from tests import pg
from tests.bodies import valid_body
from tests.helpers import bearer
from tests.world import (
    PARAM_RE,
    World,
    admin_connection,
    build_world,
    close_admin_connections,
    csrf_token,
    describe,
    fill,
    is_id_param,
    kind_for,
    route_methods,
    send,
    sign_in,
)

# Routes with no tenant object in the URL, by endpoint, with the reason.
NO_TENANT_OBJECT = {
    "static": "the app's static files",
    "favicon": "the app's icon",
    "bootstrap.static": "Bootstrap's static files",
    "apidocs.index": "API browser page, same for everyone",
    "oauth_return.callback": "the redirect URI registered at X/LinkedIn/Facebook: finds the "
    "sign-in in the caller's own session and forwards to that agency's callback (checked above)",
    "apidocs.asset": "API browser assets",
    "api-docs.openapi_json": "the OpenAPI document, same for everyone",
    "health.healthz": "liveness probe",
    "health.readyz": "readiness probe",
    # Tested in tests/test_billing_webhooks.py: another agency's endpoint or secret is a 400,
    # and an event naming another agency's invoice finds nothing (tenant-scoped lookup).
    "stripe_webhooks.receive": "Stripe's signed events; the agency is proven by its secret",
    "billing-stripe-api.StripeConnection": "the token's own agency's Stripe connection",
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
    "team-api.InvitationAccept": "reached by a secret single-use token, not by a tenant id",
    "auth.revoke_other_sessions": "ends the caller's own other sessions",
    "recovery.forgot": "anonymous; same answer for every address",
    "recovery.reset": "reached by a secret single-use token, not by a tenant id",
    "recovery.verify": "reached by a signed token naming the caller's own account",
    "recovery.resend_verification": "the caller's own address",
    "review.page": "magic-link review: the token in the URL is the credential (test_content_links)",
    "review.image": "magic-link review images: the token in the URL is the credential",
    "review.approve": "magic-link review: the token in the URL is the credential",
    "review.request_changes": "magic-link review: the token in the URL is the credential",
    "review.comment": "magic-link review: the token in the URL is the credential",
    "mail.outbox": "demo-only outbox of e-mail files (404 unless enabled)",
    "mail.message": "demo-only outbox of e-mail files (404 unless enabled)",
    "mail.message_html": "demo-only outbox of e-mail files (404 unless enabled)",
}

#: Where ``ALL_TENANTS`` (the ORM layer's escape hatch) may appear, and why. Grep-checked.
ALL_TENANTS_ALLOWED = {
    "tenants/scoping.py": "defines the option and honours it",
    "tenants/identity.py": "the one identity query reads staff assignments before the tenant is"
    " set; it names the agency itself, and RLS binds it",
}

LAYERS = [
    "both_layers",
    pytest.param("rls_alone", marks=pytest.mark.postgresql),
    pytest.param("orm_alone", marks=pytest.mark.postgresql),
]


def _rls_setting_only(state) -> None:  # noqa: ANN001
    """``do_orm_execute`` with the ORM criteria left out: only RLS keeps tenants apart."""
    scoping._sync_rls_setting(state.session)


@pytest.fixture(scope="module")
def _bypass_app(make_app, database_url):
    database = make_url(database_url).database
    return make_app(database_url=pg.bypass_url(database))


@pytest.fixture(params=LAYERS)
def layers(request, app, database_url, monkeypatch) -> Iterator:
    """The app whose tenancy layers are under test, in context."""
    mode = request.param
    if mode == "both_layers":
        yield app
    elif mode == "rls_alone":
        event.remove(Session, "do_orm_execute", scoping._scope_to_current_agency)
        event.listen(Session, "do_orm_execute", _rls_setting_only)
        monkeypatch.setattr(
            scoping.TenantScoped, "_regia_visible_in_context", lambda self, options: True
        )
        try:
            yield app
        finally:
            event.remove(Session, "do_orm_execute", _rls_setting_only)
            event.listen(Session, "do_orm_execute", scoping._scope_to_current_agency)
    else:
        bypass = request.getfixturevalue("_bypass_app")
        db.session.remove()
        with bypass.app_context():
            role = db.session.execute(
                text("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).scalar()
            assert role is True, "the app now connects as a BYPASSRLS role"
            yield bypass
            db.session.remove()
    close_admin_connections()


def _agency_snapshot(agency_id: uuid.UUID) -> dict[str, list[tuple]]:
    """Every row that belongs to one agency, read as the superuser on PostgreSQL (RLS hides
    none) or straight from the file on SQLite."""
    agency = bindparam("agency", agency_id, type_=Uuid())
    snapshot: dict[str, list[tuple]] = {}
    with pg.ground_truth(db.engine) as conn:
        for table in Base.metadata.sorted_tables:
            if "agency_id" in table.c:
                rows = conn.execute(
                    select(table).where(table.c.agency_id == agency).order_by(*table.primary_key)
                ).all()
                snapshot[table.name] = [tuple(map(str, row)) for row in rows]
        agencies, users, memberships = (
            Base.metadata.tables[name] for name in ("agencies", "users", "memberships")
        )
        snapshot["agencies"] = conn.execute(select(agencies).where(agencies.c.id == agency)).all()
        snapshot["users"] = conn.execute(
            select(users)
            .join(memberships, memberships.c.user_id == users.c.id)
            .where(memberships.c.agency_id == agency)
            .order_by(users.c.id)
        ).all()
    return snapshot


def _id_params(rule) -> list[str]:  # noqa: ANN001
    return [n for c, n in PARAM_RE.findall(rule.rule) if n != "agency_slug" and is_id_param(c, n)]


def _mixed(rule, b: World, a: World, param: str) -> str | None:  # noqa: ANN001
    """B's slug and objects, except the object for ``param``, which is A's."""
    kind = kind_for(rule.rule, param)
    if kind is None:
        return None
    url, _ = fill(rule, b.slug, {**b.objects, kind: a.objects[kind]})
    return url


def _send(client, method: str, url: str, body, *, api: bool, headers: dict, csrf: str):  # noqa: ANN001, ANN201
    if api:
        kwargs = {"json": body} if body is not None else {}
        return send(client, method, url, headers=headers, **kwargs)
    if method == "GET":
        return send(client, method, url)
    data = MultiDict([("csrf_token", csrf), *(body or [])])
    return send(client, method, url, data=data, content_type="multipart/form-data")


def test_every_route_hides_agency_a_from_agency_b(layers):
    app = layers
    a, b = build_world("Agency A"), build_world("Agency B")
    web = app.test_client()
    sign_in(web, b.users["owner"])
    csrf = csrf_token(web)
    b_auth = bearer(b.tokens["owner"])
    before = _agency_snapshot(a.agency.id)

    problems: list[str] = []
    checked: list[str] = []
    positive: list[tuple[str, str, bool]] = []
    a_ids = {str(v) for v in a.objects.values()} | {str(a.agency.id)}
    for rule, method in route_methods(app):
        if rule.endpoint in NO_TENANT_OBJECT:
            continue
        is_api = rule.rule.startswith("/api/")
        under_agency = "<agency_slug>" in rule.rule
        with_ids = bool(_id_params(rule))
        label = f"{method} {rule.rule}"
        if not (is_api or under_agency or with_ids):
            problems.append(
                f"{rule.rule} ({rule.endpoint}) is neither checked nor allow-listed: put it under"
                " /a/<agency_slug>/ or add it to NO_TENANT_OBJECT with the reason"
            )
            continue
        url_a, fill_problems = fill(rule, a.slug, a.objects)
        problems.extend(fill_problems)
        if url_a is None:
            continue
        body = valid_body(rule.endpoint, method, a) if method != "GET" else None
        send_args = {"api": is_api, "headers": b_auth, "csrf": csrf}
        if under_agency or with_ids:
            # B's member with A's slug and objects; then B's slug and objects but one of A's,
            # so every lookup itself must be scoped.
            probes = [(url_a, "as agency B")]
            for param in _id_params(rule):
                mixed = _mixed(rule, b, a, param)
                if mixed is not None:
                    probes.append((mixed, f"in agency B with A's <{param}>"))
            for url, what in probes:
                response = _send(web, method, url, body, **send_args)
                if response.status_code != 404:
                    problems.append(f"{label} {what} answered {describe(response)}, not 404")
            if method == "GET" and with_ids:
                positive.append((url_a, label, is_api))
        else:
            # An API collection: B sees and touches only B.
            response = _send(web, method, url_a, body, **send_args)
            text_ = response.get_data(as_text=True)
            if response.status_code >= 500:
                problems.append(f"{label} as agency B answered {describe(response)}")
            leaked = sorted(i for i in a_ids if i in text_)
            if leaked:
                problems.append(f"{label} as agency B shows agency A's ids {leaked}")
        checked.append(label)

    assert not problems, "\n".join(problems)
    assert len(checked) >= 30 and len(positive) >= 8, (len(checked), len(positive))
    assert _agency_snapshot(a.agency.id) == before, "agency B's requests changed agency A"

    # Control: A's own owner reaches the same object URLs: the 404s above come from isolation.
    a_web = app.test_client()
    sign_in(a_web, a.users["owner"])
    for url, label, is_api in positive:
        response = a_web.get(url, headers=bearer(a.tokens["owner"])) if is_api else a_web.get(url)
        assert response.status_code == 200, f"{label}: agency A's owner got {response.status_code}"


@pytest.mark.postgresql
def test_agency_b_reaches_no_row_of_agency_a_in_any_tenant_table(app, database_url):
    """RLS on its own, table by table: raw SQL in agency B's context (no ORM layer) neither
    sees, updates nor deletes any of agency A's rows, in every tenant table."""
    a, b = build_world("Agency A"), build_world("Agency B")
    before = _agency_snapshot(a.agency.id)
    tables = sorted(
        m.local_table.name
        for m in Base.registry.mappers
        if issubclass(m.class_, scoping.TenantScoped)
    )
    problems: list[str] = []
    for table in tables:
        count = f'SELECT count(*) FROM "{table}" WHERE agency_id = %s'
        if admin_connection().execute(count, (a.agency.id,)).fetchone()[0] == 0:
            problems.append(f"{table}: agency A has no row to hide; build one in build_world")
            continue
        params = {"a": a.agency.id}
        with tenant_context(b.agency.id):
            where = f'"{table}" WHERE agency_id = :a'
            seen = db.session.execute(text(f"SELECT count(*) FROM {where}"), params).scalar()
            updated = db.session.execute(
                text(f'UPDATE "{table}" SET agency_id = agency_id WHERE agency_id = :a'), params
            ).rowcount
            deleted = db.session.execute(text(f"DELETE FROM {where}"), params).rowcount
            db.session.rollback()
        if seen or updated or deleted:
            problems.append(f"{table}: agency B saw {seen}, updated {updated}, deleted {deleted}")
    assert len(tables) >= 4
    assert not problems, "\n".join(problems)
    assert _agency_snapshot(a.agency.id) == before
    close_admin_connections()


def test_all_tenants_is_used_only_where_allowed():
    """The ORM escape hatch appears only in the allow-listed files (grep of the source)."""
    root = Path(__file__).resolve().parent.parent
    used: dict[str, int] = {}
    for package in ("agency", "tenants", "billing"):
        for path in (root / package).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            count = len(re.findall(r"\bALL_TENANTS\b|regia_all_tenants", source))
            if count:
                used[str(path.relative_to(root))] = count
    unexpected = sorted(set(used) - set(ALL_TENANTS_ALLOWED))
    assert not unexpected, (
        f"ALL_TENANTS used in {unexpected}: remove it, or add the file with the reason to"
        " ALL_TENANTS_ALLOWED in tests/test_route_isolation.py"
    )
    assert "tenants/scoping.py" in used


def test_every_allow_listed_endpoint_still_exists(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted(e for e in NO_TENANT_OBJECT if e not in endpoints)
    assert not stale, f"remove from NO_TENANT_OBJECT: {stale}"


def test_token_page_cannot_issue_a_token_for_another_agency(app, database_url):
    a, b = build_world("Agency A"), build_world("Agency B")
    web = app.test_client()
    sign_in(web, b.users["owner"])
    page = web.get("/account/tokens")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert a.slug not in html
    csrf = re.search(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"', html).group(1)
    before = _agency_snapshot(a.agency.id)
    response = web.post(
        "/account/tokens", data={"csrf_token": csrf, "agency": a.slug, "name": "sneaky"}
    )
    assert response.status_code == 422
    assert _agency_snapshot(a.agency.id) == before
    close_admin_connections()
