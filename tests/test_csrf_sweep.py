"""Every web form route refuses a request without its CSRF token: 400, and nothing written.

Generated from ``app.url_map``: each non-API write route is sent its valid body
(``tests/bodies.py``) by a role the roles table allows (so the request would succeed with
the token, as ``tests/test_role_sweep.py`` shows), minus the token.
"""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from tests.bodies import WEB
from tests.test_role_sweep import TABLE
from tests.world import (
    ANONYMOUS,
    ROLES,
    build_world,
    changed_tables,
    close_admin_connections,
    describe,
    route_methods,
    send,
    sign_in_as,
    snapshot,
    world_url,
)

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
NOT_FORMS = ("/api/", "/webhooks/")  # bearer-token JSON APIs and signed webhooks


def _form_routes(app) -> list[tuple]:  # noqa: ANN001
    return [
        (rule, method)
        for rule, method in route_methods(app, WRITES)
        if not rule.rule.startswith(NOT_FORMS)
    ]


@pytest.fixture(scope="module", autouse=True)
def _admin_connections():
    yield
    close_admin_connections()


def test_every_form_route_has_a_valid_body(app):
    missing = sorted(
        f'    ("{rule.endpoint}", "{method}"): lambda w: [...],'
        for rule, method in _form_routes(app)
        if (rule.endpoint, method) not in WEB
    )
    assert not missing, "add a valid submission to WEB in tests/bodies.py:\n" + "\n".join(missing)


def test_every_form_route_refuses_a_post_without_csrf_token(app, database_url):
    world = build_world()
    problems: list[str] = []
    checked: list[str] = []
    for rule, method in _form_routes(app):
        allowed = TABLE[(rule.endpoint, method)].roles
        role = next((r for r in ROLES if r in allowed), ANONYMOUS)
        web = app.test_client()
        if role != ANONYMOUS:
            sign_in_as(web, world, role)
        web.get("/login")  # a session with a token in it, as a browser would have
        body = MultiDict(WEB[(rule.endpoint, method)](world))
        before = snapshot()
        response = send(
            web, method, world_url(rule, world), data=body, content_type="multipart/form-data"
        )
        changed = changed_tables(before, snapshot())
        label = f"{method} {rule.rule} as {role} without a CSRF token"
        if response.status_code != 400:
            problems.append(f"{label}: answered {describe(response)}, not 400")
        if changed:
            problems.append(f"{label}: wrote {changed}")
        checked.append(label)
    assert len(checked) >= 25, f"only {len(checked)} form routes found"
    assert not problems, "\n".join(problems)
