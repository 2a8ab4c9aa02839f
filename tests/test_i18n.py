"""English and Italian: how the language is chosen, and that the Italian catalog is complete."""

from __future__ import annotations

import shutil

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po, write_po
from flask_babel import force_locale, gettext
from sqlalchemy import select

from agency import i18n
from agency.app import SUPPORTED_LOCALES
from agency.db import db
from tenants.models import User
from tests.factories import make_agency, make_client, owner_of
from tests.helpers import csrf_from, form_post

EN = {"Accept-Language": "en-US,en;q=0.9"}
IT = {"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _saved_locale(user_id) -> str | None:
    db.session.expire_all()
    return db.session.scalar(select(User.locale).where(User.id == user_id))


# --- choosing the language -------------------------------------------------------------


def test_login_page_is_english_by_default(client, database_url):
    page = _text(client.get("/login"))
    assert '<html lang="en">' in page
    assert "Sign in to Regia" in page
    assert "Keep me signed in" in page
    assert "Accedi" not in page


def test_login_page_follows_an_italian_browser(client, database_url):
    page = _text(client.get("/login", headers=IT))
    assert '<html lang="it">' in page
    assert "Accedi a Regia" in page
    assert "Resta collegato" in page  # a lazily translated form label
    assert ">Accedi</button>" in page
    assert "Sign in to Regia" not in page


def test_unsupported_browser_language_falls_back_to_english(client, database_url):
    page = _text(client.get("/login", headers={"Accept-Language": "de-DE,fr;q=0.8"}))
    assert '<html lang="en">' in page
    assert "Sign in to Regia" in page


def test_form_errors_are_italian_for_an_italian_browser(client, database_url):
    response = form_post(client, "/login", {"email": "", "password": ""}, headers=IT)
    page = _text(response)
    assert "Questo campo è obbligatorio." in page  # WTForms' own catalog, same locale
    assert "This field is required." not in page


def test_wrong_password_message_is_italian(client, database_url):
    owner = owner_of(make_agency())
    response = form_post(client, "/login", {"email": owner.email, "password": "nope"}, headers=IT)
    assert response.status_code == 401
    assert "E-mail o password errati." in _text(response)


def test_service_validation_messages_are_italian_for_an_italian_user(client, auth, database_url):
    owner = owner_of(make_agency())
    owner.locale = "it"
    db.session.commit()
    auth.login(owner.email)
    response = form_post(
        client,
        "/account",
        {
            "password-current_password": "not my password",
            "password-new_password": "another long password",
            "password-submit": "1",
        },
    )
    assert response.status_code == 422
    assert "La password attuale non è corretta." in _text(response)


def test_saved_italian_preference_beats_an_english_browser(client, auth, database_url):
    agency = make_agency("Studio Uno")
    make_client(agency, "Pasticceria Rossi")
    owner = owner_of(agency)
    owner.locale = "it"
    db.session.commit()
    auth.login(owner.email)

    page = _text(client.get(f"/a/{agency.slug}/", headers=EN))
    assert '<html lang="it">' in page
    assert "Pannello" in page
    assert "Aziende clienti" in page
    assert "Titolare" in page  # role badge, a lazy string from agency/web/context.py
    assert "Esci" in page
    assert "Client companies" not in page


def test_dashboard_is_english_for_an_english_browser_without_preference(client, auth, database_url):
    agency = make_agency("Studio Due")
    make_client(agency, "Bakery Ltd")
    owner = owner_of(agency)
    assert owner.locale is None
    auth.login(owner.email)

    page = _text(client.get(f"/a/{agency.slug}/", headers=EN))
    assert '<html lang="en">' in page
    assert "Client companies" in page
    assert "Sign out" in page
    assert "Aziende clienti" not in page


def test_footer_switch_changes_language_and_saves_it_on_the_user(client, auth, database_url):
    agency = make_agency("Studio Tre")
    owner = owner_of(agency)
    auth.login(owner.email)
    dashboard = f"/a/{agency.slug}/"

    response = form_post(
        client, "/locale", {"locale": "it", "next": dashboard}, page=dashboard, headers=EN
    )
    assert response.status_code == 302
    assert response.location.endswith(dashboard)
    assert _saved_locale(owner.id) == "it"
    assert "Pannello" in _text(client.get(dashboard, headers=EN))

    # The preference follows the user to a fresh session (another browser, after logout).
    other = client.application.test_client()
    form_post(other, "/login", {"email": owner.email, "password": "correct horse battery"})
    assert '<html lang="it">' in _text(other.get(dashboard, headers=EN))

    form_post(client, "/locale", {"locale": "en", "next": dashboard}, page=dashboard, headers=IT)
    assert _saved_locale(owner.id) == "en"
    assert "Client companies" in _text(client.get(dashboard, headers=IT))


def test_footer_switch_works_before_signing_in(client, database_url):
    response = form_post(client, "/locale", {"locale": "it", "next": "/login"}, page="/login")
    assert response.status_code == 302
    assert "Accedi a Regia" in _text(client.get("/login", headers=EN))


def test_language_picked_before_signing_in_survives_sign_in_and_out(client, auth, database_url):
    agency = make_agency("Studio Quattro")
    owner = owner_of(agency)
    form_post(client, "/locale", {"locale": "it", "next": "/login"}, page="/login")

    auth.login(owner.email)  # a fresh session (no fixation), but the language stays
    assert "Pannello" in _text(client.get(f"/a/{agency.slug}/", headers=EN))
    auth.logout()
    assert "Accedi a Regia" in _text(client.get("/login", headers=EN))
    assert _saved_locale(owner.id) is None  # chosen for this browser, not saved on the user


def test_footer_switch_rejects_unknown_languages(client, database_url):
    token = csrf_from(_text(client.get("/login")))
    response = client.post("/locale", data={"csrf_token": token, "locale": "xx"})
    assert response.status_code == 400
    assert "Sign in to Regia" in _text(client.get("/login", headers=EN))


def test_footer_switch_requires_csrf(client, database_url):
    response = client.post("/locale", data={"locale": "it"})
    assert response.status_code == 400
    assert "Sign in to Regia" in _text(client.get("/login", headers=EN))


def test_messages_outside_a_request_use_the_default_or_forced_language(app):
    # Jobs and CLI commands run without a request: no session, no browser to ask.
    assert gettext("Sign in") == "Sign in"
    with force_locale("it"):
        assert gettext("Sign in") == "Accedi"


# --- the catalogs ----------------------------------------------------------------------


def test_every_supported_language_but_english_has_a_catalog():
    assert i18n.catalog_locales() == sorted(set(SUPPORTED_LOCALES) - {"en"})


@pytest.mark.parametrize("locale", i18n.catalog_locales())
def test_catalog_has_no_untranslated_or_fuzzy_entries(locale):
    with i18n.po_path(locale).open("rb") as fileobj:
        catalog = read_po(fileobj, locale=locale)
    todo = [m.id for m in catalog if m.id and (m.fuzzy or not all(_strings(m)))]
    assert not todo, (
        f"{i18n.po_path(locale)} has untranslated or fuzzy messages: {todo}. Translate them, "
        f"then run `{i18n.COMPILE_COMMAND}`."
    )
    broken = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not broken, f"placeholders differ between English and translation: {broken}"


@pytest.mark.parametrize("locale", i18n.catalog_locales())
def test_compiled_catalog_matches_its_po(locale):
    with i18n.po_path(locale).open("rb") as fileobj:
        catalog = read_po(fileobj, locale=locale)
    expected = i18n.compiled_messages(catalog)
    with i18n.mo_path(locale).open("rb") as fileobj:
        committed = i18n.mo_messages(read_mo(fileobj))  # plural ids are lists: made hashable
    assert committed == expected, (
        f"{i18n.mo_path(locale)} is out of date with its .po: run `{i18n.COMPILE_COMMAND}`."
    )


def test_every_message_in_the_code_is_in_every_catalog(tmp_path):
    pot = tmp_path / "messages.pot"
    with pot.open("wb") as fileobj:
        write_po(fileobj, i18n.extract())
    with pot.open("rb") as fileobj:
        used = {m.id for m in read_po(fileobj) if m.id}
    # The extraction itself must see templates, Python _() and lazy _l() strings.
    assert {"Sign in to Regia", "Wrong e-mail or password.", "Keep me signed in"} <= used

    for locale in i18n.catalog_locales():
        with i18n.po_path(locale).open("rb") as fileobj:
            known = {m.id for m in read_po(fileobj) if m.id}
        missing = sorted(used - known, key=str)
        assert not missing, (
            f"{len(missing)} message(s) are not in {i18n.po_path(locale)}: {missing}. "
            f"Run `{i18n.REFRESH_COMMAND}`, translate the new entries, then "
            f"`{i18n.COMPILE_COMMAND}`, and commit the .po and .mo files."
        )


def test_check_reports_new_untranslated_and_uncompiled_messages(tmp_path, monkeypatch):
    shutil.copytree(i18n.TRANSLATIONS, tmp_path, dirs_exist_ok=True)
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)
    catalog = i18n.read_catalog("it")
    template = Catalog()
    for message in catalog:
        if message.id:
            template.add(message.id, context=message.context)
    assert i18n.problems(template) == []

    template.add("A brand new button")
    catalog.add("An untranslated label")
    catalog.add("Salvataggio", "Saving", flags=["fuzzy"])
    catalog["Sign in"].string = "Entra"  # a changed translation the .mo does not have yet
    i18n._write_po(i18n.po_path("it"), catalog)

    found = "\n".join(i18n.problems(template))
    assert "'A brand new button'" in found and i18n.REFRESH_COMMAND in found
    assert "'An untranslated label'" in found and "'Salvataggio'" in found
    assert "older than its .po" in found and i18n.COMPILE_COMMAND in found


def _strings(message) -> tuple:
    return message.string if isinstance(message.string, tuple) else (message.string,)


@pytest.mark.parametrize(
    ("status", "title"),
    [("active", "Clienti — Attivi"), ("onboarding", "Clienti — In attivazione"), (None, "Clienti")],
)
def test_the_filtered_clients_title_agrees_in_italian(client, auth, database_url, status, title):
    agency = make_agency()
    owner = owner_of(agency)
    owner.locale = "it"
    db.session.commit()
    auth.login(owner.email)
    query = f"?status={status}" if status else ""
    html = client.get(f"/a/{agency.slug}/clients/{query}").get_data(as_text=True)
    assert f"<title>{title} · Regia</title>" in html
