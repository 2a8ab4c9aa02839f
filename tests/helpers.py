"""Test helpers: reading CSRF tokens off pages and signing in through the real form."""

from __future__ import annotations

import hashlib
import os
import re

from itsdangerous import URLSafeTimedSerializer

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no csrf_token on the page"
    return match.group(1)


def form_post(client, path: str, data: dict, *, page: str | None = None, **kwargs):
    """POST ``data`` to ``path`` with a CSRF token: the one on ``page`` when given (GET first,
    as a person would open it), else one minted for the client's session (``csrf_token``)."""
    if page is None:
        token = csrf_token(client)
    else:
        token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


class AuthActions:
    def __init__(self, client) -> None:
        self._client = client

    def login(self, email: str, password: str = "correct horse battery"):
        """The login form's POST (the page itself is under test in tests/test_accounts.py)."""
        data = {"csrf_token": csrf_token(self._client), "email": email, "password": password}
        return self._client.post("/login", data=data)

    def logout(self):
        return form_post(self._client, "/logout", {}, page="/account")


def csrf_token(client) -> str:  # noqa: ANN001
    """A CSRF token valid for ``client``'s session, minted as Flask-WTF's ``generate_csrf``
    mints it (a random secret kept in the session, signed with the app's key): no page is
    rendered for it. The sweeps send thousands of forms; other tests (``csrf_from``) and the
    browser tests read real pages' tokens."""
    app = client.application
    with client.session_transaction() as session:
        raw = session.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())  # noqa: S324
    key = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
    return URLSafeTimedSerializer(key, salt="wtf-csrf-token").dumps(raw)


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


def run_together(app, agency_id, works, *, timeout: float = 30) -> list[Exception]:  # noqa: ANN001
    """Run each callable of ``works`` in its own thread, app context, tenant context and so
    database connection, all released at once (a barrier that waits ``timeout`` seconds for
    them); returns what they raised once all have ended (at most a minute each)."""
    import threading

    from agency.db import db
    from tenants.context import tenant_context

    errors: list[Exception] = []
    start = threading.Barrier(len(works))

    def run(work) -> None:  # noqa: ANN001
        with app.app_context(), tenant_context(agency_id):
            try:
                start.wait(timeout)
                work()
            except Exception as exc:  # noqa: BLE001 - the caller reports it
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors
