"""Test helpers: reading CSRF tokens off pages and signing in through the real form."""

from __future__ import annotations

import re

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token on the page"
    return match.group(1)


def form_post(client, path: str, data: dict, *, page: str | None = None, **kwargs):
    """GET ``page`` (default ``path``) for a CSRF token, then POST ``data`` to ``path``."""
    html = client.get(page or path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_from(html), **data}, **kwargs)


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def login(self, email: str, password: str = "correct horse battery"):
        return form_post(self._client, "/login", {"email": email, "password": password})

    def logout(self):
        return form_post(self._client, "/logout", {}, page="/account")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_id_for(user) -> str:  # noqa: ANN001
    """A live server-side session for ``user``: the value Flask-Login keeps in ``_user_id``.

    For tests that put a signed-in user straight into a test client's session.
    """
    from agency.db import db
    from tenants.models import UserSession

    row = UserSession(user_id=user.id)
    db.session.add(row)
    db.session.commit()
    user.session_id = row.id
    return user.get_id()


def page_as(app, user, path: str) -> str:  # noqa: ANN001
    """The HTML of ``path`` for ``user``, signed in by the login form on a fresh client."""
    web = app.test_client()
    assert AuthActions(web).login(user.email).status_code == 302
    response = web.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)
