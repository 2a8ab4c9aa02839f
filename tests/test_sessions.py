"""Finding 4: sessions end on the server, so a copied cookie stops working.

Every sign-in is a ``user_sessions`` row named in the cookie; logout revokes it, "sign out of
all other sessions" revokes the others, a password change ends the others too.
"""

from __future__ import annotations

from sqlalchemy import func, select

from agency.db import db
from tenants.models import Role, UserSession
from tenants.passwords import hash_password
from tests.factories import PASSWORD, make_agency, make_member
from tests.helpers import AuthActions, form_post


def _copy_cookies(source, target) -> None:  # noqa: ANN001
    for name in ("session", "remember_token"):
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value, domain=cookie.domain)


def _live_sessions() -> int:
    return db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.revoked_at.is_(None))
    )


def test_a_copied_session_cookie_stops_working_after_logout(app, database_url):
    user = make_member(make_agency(), Role.MANAGER)
    victim, thief = app.test_client(), app.test_client()
    AuthActions(victim).login(user.email)
    _copy_cookies(victim, thief)
    assert thief.get("/account").status_code == 200  # the stolen cookie works while live

    AuthActions(victim).logout()

    assert thief.get("/account").status_code == 302
    assert _live_sessions() == 0


def test_a_copied_remember_me_cookie_stops_working_after_logout(app, database_url):
    user = make_member(make_agency(), Role.MANAGER)
    victim = app.test_client()
    form_post(victim, "/login", {"email": user.email, "password": PASSWORD, "remember": "y"})
    assert victim.get_cookie("remember_token") is not None
    thief = app.test_client()
    thief.set_cookie("remember_token", victim.get_cookie("remember_token").value)
    assert thief.get("/account").status_code == 200

    AuthActions(victim).logout()

    fresh_thief = app.test_client()
    fresh_thief.set_cookie("remember_token", victim.get_cookie("remember_token").value)
    assert fresh_thief.get("/account").status_code == 302


def test_sign_out_of_all_other_sessions_keeps_this_one(app, database_url):
    user = make_member(make_agency(), Role.STAFF)
    here, laptop, phone = app.test_client(), app.test_client(), app.test_client()
    for browser in (here, laptop, phone):
        AuthActions(browser).login(user.email)
    page = here.get("/account").get_data(as_text=True)
    assert "Other browsers or devices signed in: 2." in page

    response = form_post(here, "/account/sessions/revoke-others", {}, page="/account")

    assert response.status_code == 302
    assert here.get("/account").status_code == 200
    assert laptop.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302
    assert _live_sessions() == 1


def test_the_account_page_counts_only_this_users_live_sessions(app, database_url):
    agency = make_agency()
    user, colleague = make_member(agency, Role.STAFF), make_member(agency, Role.MANAGER)
    here, laptop, phone = app.test_client(), app.test_client(), app.test_client()
    for browser in (here, laptop, phone):
        AuthActions(browser).login(user.email)
    AuthActions(phone).logout()  # revoked: no longer counted
    for _ in range(2):  # someone else's sessions are none of this page's business
        AuthActions(app.test_client()).login(colleague.email)

    page = here.get("/account").get_data(as_text=True)

    assert "Other browsers or devices signed in: 1." in page


def test_revoking_other_sessions_needs_csrf_and_a_sign_in(app, database_url):
    user = make_member(make_agency(), Role.STAFF)
    here, other = app.test_client(), app.test_client()
    AuthActions(here).login(user.email)
    AuthActions(other).login(user.email)
    assert here.post("/account/sessions/revoke-others").status_code == 400
    assert app.test_client().post("/account/sessions/revoke-others").status_code in (302, 400)
    assert _live_sessions() == 2


def test_password_change_revokes_the_other_sessions_on_the_server(app, database_url):
    user = make_member(make_agency(), Role.STAFF)
    here, other = app.test_client(), app.test_client()
    AuthActions(here).login(user.email)
    AuthActions(other).login(user.email)
    form_post(
        here,
        "/account",
        {
            "password-current_password": PASSWORD,
            "password-new_password": "a brand new password",
            "password-submit": "1",
        },
    )
    assert _live_sessions() == 1
    assert here.get("/account").status_code == 200
    assert other.get("/account").status_code == 302


def test_deactivated_member_loses_the_agency_even_with_a_live_session(app, database_url):
    agency = make_agency()
    user = make_member(agency, Role.STAFF)
    browser = app.test_client()
    AuthActions(browser).login(user.email)
    assert browser.get(f"/a/{agency.slug}/").status_code == 200
    user.active = False
    db.session.commit()
    assert browser.get(f"/a/{agency.slug}/").status_code == 302


def test_each_session_row_records_the_browsers_user_agent_cut_to_200_characters(app, database_url):
    user = make_member(make_agency(), Role.MANAGER)
    long_agent = "Firefox/140 " + "x" * 300
    for agent in (long_agent, "", None):  # None: a client that sends no User-Agent at all
        browser = app.test_client()
        browser.environ_base.pop("HTTP_USER_AGENT", None)
        if agent is not None:
            browser.environ_base["HTTP_USER_AGENT"] = agent
        signed_in = form_post(browser, "/login", {"email": user.email, "password": PASSWORD})
        assert signed_in.status_code == 302
    agents = db.session.scalars(
        select(UserSession.user_agent).where(UserSession.user_id == user.id)
    ).all()
    assert sorted(agents, key=str) == sorted([long_agent[:200], None, None], key=str)


def test_a_session_cookie_stops_working_once_the_password_hash_changes(app, database_url):
    # The cookie's id carries a fingerprint of the password hash (User.get_id): a hash
    # changed without set_password (a restored backup, an operator's fix) revokes no session
    # row, and the cookie must still stop working.
    user = make_member(make_agency(), Role.STAFF)
    browser = app.test_client()
    AuthActions(browser).login(user.email)
    assert browser.get("/account").status_code == 200
    user.password_hash = hash_password("a brand new password")
    db.session.commit()
    assert _live_sessions() == 1
    response = browser.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_signing_out_other_sessions_ends_only_this_users_live_ones_and_says_how_many(
    app, database_url
):
    agency = make_agency()
    user, colleague = make_member(agency, Role.STAFF), make_member(agency, Role.MANAGER)
    here, laptop, phone, theirs = (app.test_client() for _ in range(4))
    for browser in (here, laptop, phone):
        AuthActions(browser).login(user.email)
    AuthActions(phone).logout()
    AuthActions(theirs).login(colleague.email)
    ended = db.session.scalar(select(UserSession).where(UserSession.revoked_at.is_not(None)))
    ended_at = ended.revoked_at

    first = form_post(here, "/account/sessions/revoke-others", {}, page="/account")
    assert "Signed out of 1 other session." in here.get(first.location).get_data(as_text=True)
    again = form_post(here, "/account/sessions/revoke-others", {}, page="/account")
    assert "Signed out of 0 other sessions." in here.get(again.location).get_data(as_text=True)

    assert theirs.get("/account").status_code == 200  # someone else's session is untouched
    assert laptop.get("/account").status_code == 302
    db.session.expire_all()
    assert db.session.get(UserSession, ended.id).revoked_at == ended_at
