"""Issue #11 and issue #6's UI findings, through the real HTTP stack: what assistive technology
is told (ARIA, titles, names), which controls the members page offers, localized names,
the agency menu outside an agency, the favicon and localized error pages."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from agency.db import db
from tenants.models import Membership, Role
from tests.factories import (
    PASSWORD,
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    owner_of,
)
from tests.helpers import csrf_from, form_post

EN = {"Accept-Language": "en-GB,en;q=0.9"}
IT = {"Accept-Language": "it-IT,it;q=0.9"}
VOID = {"input", "br", "img", "meta", "link", "hr", "source", "area", "col", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)


class Page(HTMLParser):
    """A minimal DOM: every element with its attributes and its text (descendants included)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.all: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        parent = self._open[-1] if self._open else None
        element = Element(tag, dict(attrs), parent)
        self.all.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    def find(self, tag: str | None = None, **attrs: str | None) -> list[Element]:
        """Elements with these attributes; ``class_`` is one of the element's classes."""

        def has(e: Element, key: str, value: str | None) -> bool:
            if key == "class_" and value is not None:
                return value in (e.get("class") or "").split()
            return e.get(key.rstrip("_").replace("_", "-")) == value

        return [
            e
            for e in self.all
            if (tag is None or e.tag == tag) and all(has(e, k, v) for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Element:
        (found,) = self.find(id=element_id)
        return found

    @property
    def title(self) -> str:
        return self.find("title")[0].text


def page_of(response) -> Page:  # noqa: ANN001
    return Page(response.get_data(as_text=True))


def sign_in(client, user) -> None:  # noqa: ANN001
    response = form_post(client, "/login", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def agency():
    return make_agency("Aurora Social")


@pytest.fixture
def owner_client(client, agency):
    sign_in(client, owner_of(agency))
    return client


# --- Form errors are announced --------------------------------------------------------------


@pytest.mark.parametrize(("headers", "prefix"), [(EN, "Error: "), (IT, "Errore: ")])
def test_failed_client_form_marks_the_field_invalid_and_describes_it_by_its_message(
    owner_client, agency, headers, prefix
):
    path = f"/a/{agency.slug}/clients/new"
    html = owner_client.get(path, headers=headers).get_data(as_text=True)
    response = owner_client.post(
        path, data={"csrf_token": csrf_from(html), "name": "  "}, headers=headers
    )
    assert response.status_code == 422
    page = page_of(response)
    assert page.title.startswith(prefix)
    field = page.by_id("name")
    assert field.get("aria-invalid") == "true"
    described = (field.get("aria-describedby") or "").split()
    assert "name-error" in described
    message = page.by_id("name-error").text
    assert message  # the service's "required" message, in the page's language
    # The summary is an alert, focusable, and links to the field with the same message.
    (summary,) = [e for e in page.find(role="alert") if "data-error-summary" in e.attrs]
    assert summary.get("tabindex") == "-1"
    (link,) = [a for a in page.find("a") if a.get("href") == "#name"]
    assert message in link.text
    # Fields without errors are not marked invalid.
    assert page.by_id("legal_name").get("aria-invalid") is None


def test_a_form_shown_without_errors_has_its_plain_title(owner_client, agency):
    page = page_of(owner_client.get(f"/a/{agency.slug}/clients/new", headers=EN))
    assert page.title == "New client · Regia"
    assert not [e for e in page.all if "data-error-summary" in e.attrs]
    assert page.by_id("name").get("aria-invalid") is None


def test_required_fields_are_marked_visibly_and_for_screen_readers(client):
    page = page_of(client.get("/login", headers=EN))
    for name in ("email", "password"):
        assert "required" in page.by_id(name).attrs
        (label,) = [e for e in page.find("label") if e.get("for") == name]
        assert label.text in ("E-mail", "Password")  # the mark is not part of the name
        marks = [
            c for c in page.all if c.parent is label.parent and c.get("class") == "required-mark"
        ]
        assert marks and marks[0].get("aria-hidden") == "true"
    assert "required" not in page.by_id("remember").attrs
    assert "Fields marked * are required." in page.find("form")[0].text


def _form_classes() -> list[type]:
    import importlib

    from flask_wtf import FlaskForm

    for module in FORM_MODULES:
        importlib.import_module(module)
    found, todo = [], list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


FORM_MODULES = (
    "tenants.forms",
    "agency.team.forms",
    "agency.content.forms",
    "agency.clients.forms",
    "agency.workflow.forms",
    "billing.forms",
)
TEXT_FIELDS = {"StringField", "EmailField", "PasswordField", "TextAreaField", "URLField"}


def test_every_form_field_that_refuses_empty_input_is_flagged_required(app):
    """A sweep over every FlaskForm: a text field whose validators refuse an empty value is
    flagged ``required``, which is what the form macros mark with * (and ``required``)."""
    from werkzeug.datastructures import MultiDict

    seen, unmarked = 0, []
    with app.test_request_context("/", headers=EN):
        for cls in _form_classes():
            try:
                form = cls(formdata=MultiDict(), meta={"csrf": False})
            except TypeError:  # a form that needs arguments: its fields are still class-level
                continue
            for field in form:
                if field.type not in TEXT_FIELDS:
                    continue
                seen += 1
                field.validate(form)
                if field.errors and not field.flags.required:
                    unmarked.append(f"{cls.__name__}.{field.name}")
    assert seen >= 20, seen
    assert unmarked == []


def test_signup_marks_every_required_field(client):
    page = page_of(client.get("/signup", headers=EN))
    for name in ("agency_name", "name", "email", "password"):
        assert "required" in page.by_id(name).attrs, name
        (label,) = [e for e in page.find("label") if e.get("for") == name]
        marks = [
            c for c in page.all if c.parent is label.parent and c.get("class") == "required-mark"
        ]
        assert marks, name


def test_a_refused_sign_in_is_an_error_in_the_title_too(client, agency):
    response = form_post(client, "/login", {"email": "nobody@example.com", "password": "nope"})
    page = page_of(response)
    assert page.title == "Error: Sign in · Regia"
    assert [e.text for e in page.find(role="alert")] == ["Wrong e-mail or password."]


def test_channel_form_errors_are_announced_too(owner_client, agency):
    bellavista = make_client(agency, "Bellavista")
    path = f"/a/{agency.slug}/clients/{bellavista.id}/channels/new?network=mastodon"
    html = owner_client.get(path, headers=EN).get_data(as_text=True)
    response = owner_client.post(
        path, data={"csrf_token": csrf_from(html), "network": "mastodon", "name": ""}, headers=EN
    )
    assert response.status_code == 422
    page = page_of(response)
    assert page.title.startswith("Error: Add a Mastodon channel — Bellavista")
    name = page.by_id("name")
    assert name.get("aria-invalid") == "true"
    assert page.by_id(name.get("aria-describedby").split()[0]).text
    assert [e for e in page.find(role="alert") if "data-error-summary" in e.attrs]


# --- Keyboard and semantics -----------------------------------------------------------------


def test_shell_has_skip_link_button_toggles_and_current_markers(owner_client, agency):
    page = page_of(owner_client.get(f"/a/{agency.slug}/clients/?status=active", headers=EN))
    skip = page.find("a", href="#content")
    assert skip and skip[0].text == "Skip to main content"
    assert page.by_id("content").tag == "main"
    for toggle in page.find(data_bs_toggle="dropdown"):
        assert toggle.tag == "button" and toggle.get("type") == "button"
    assert page.by_id("user-menu").tag == "button"
    current = page.find("a", aria_current="page")
    texts = {a.text for a in current}
    assert "Clients" in texts and "Active" in texts  # the menu item and the status filter
    english, italian = page.find("button", name="locale")
    assert (english.get("lang"), english.get("aria-current")) == ("en", "true")
    assert (italian.get("lang"), italian.get("aria-current")) == ("it", None)
    assert page.title == "Clients — Active · Regia"


def test_page_titles_name_the_client(owner_client, agency):
    bellavista = make_client(agency, "Bellavista")
    base = f"/a/{agency.slug}/clients/{bellavista.id}"
    edit = page_of(owner_client.get(f"{base}/edit", headers=EN)).title
    add = page_of(owner_client.get(f"{base}/channels/new?network=mastodon", headers=EN)).title
    assert edit == "Edit client — Bellavista · Regia"
    assert add == "Add a Mastodon channel — Bellavista · Regia"


def test_row_buttons_say_whose_row_they_act_on(owner_client, agency):
    staff = make_member(agency, Role.STAFF, email="anna.rossi@example.com")
    staff.name = "Anna Rossi"
    db.session.commit()
    page = page_of(owner_client.get(f"/a/{agency.slug}/members", headers=EN))
    labels = {b.get("aria-label") for b in page.find("button")}
    for expected in (
        "Change role of Anna Rossi",
        "Deactivate Anna Rossi",
        "Make owner: Anna Rossi",
        "Assign clients to Anna Rossi",
    ):
        assert expected in labels
    # "Make owner" is no longer the 1.6:1 outline-warning button.
    assert not [b for b in page.find("button") if "btn-outline-warning" in (b.get("class") or "")]
    # Every column header has a name (no empty <th>), here and on the tokens page.
    assert all(th.text for th in page.find("th"))
    assert all(th.text for th in page_of(owner_client.get("/account/tokens")).find("th"))


def test_every_list_table_stacks_into_cards_with_labels(owner_client, agency):
    bellavista = make_client(agency, "Bellavista")
    make_channel(agency, bellavista, name="Bellavista on Mastodon")
    make_member(agency, Role.MANAGER)
    for path in (
        f"/a/{agency.slug}/members",
        f"/a/{agency.slug}/clients/",
        f"/a/{agency.slug}/clients/{bellavista.id}/channels/",
    ):
        page = page_of(owner_client.get(path, headers=EN))
        tables = page.find("table")
        assert tables, path
        for table in tables:
            assert "table-stack" in table.get("class").split(), path
        cells = page.find("td")
        assert cells and all(td.get("data-label") for td in cells if td.text), path


# --- Members: only what the server allows --------------------------------------------------


def _row(page: Page, user) -> Element:  # noqa: ANN001
    membership = db.session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.client_id.is_(None))
    )
    return page.by_id(f"member-{membership.id}")


def _buttons_in(page: Page, row: Element) -> set[str]:
    def inside(e: Element) -> bool:
        while e.parent is not None:
            if e.parent is row:
                return True
            e = e.parent
        return False

    return {b.text for b in page.find("button") if inside(b)}


def test_the_only_owner_is_offered_neither_deactivation_nor_a_role_change(owner_client, agency):
    owner = owner_of(agency)
    page = page_of(owner_client.get(f"/a/{agency.slug}/members", headers=EN))
    assert _buttons_in(page, _row(page, owner)) == set()


def test_with_a_second_owner_the_role_change_is_offered_but_never_self_deactivation(
    owner_client, agency
):
    owner = owner_of(agency)
    make_member(agency, Role.OWNER)
    page = page_of(owner_client.get(f"/a/{agency.slug}/members", headers=EN))
    assert _buttons_in(page, _row(page, owner)) == {"Change role"}


def test_the_invite_form_ties_each_client_field_to_its_roles(owner_client, agency):
    make_client(agency, "Bellavista")
    page = page_of(owner_client.get(f"/a/{agency.slug}/members", headers=EN))
    client_group = page.by_id("invite-client_id-group").parent
    staff_group = page.by_id("invite-assigned_client_ids-group").parent
    assert client_group.get("data-show-when") == "invite-role:client_manager,client_viewer"
    assert staff_group.get("data-show-when") == "invite-role:staff"
    # Without JavaScript both stay visible (progressive enhancement), and the script exists.
    assert client_group.get("hidden") is None and staff_group.get("hidden") is None
    script = owner_client.get("/static/regia.js")
    assert script.status_code == 200 and b"data-show-when" in script.data


# --- Localized names, the agency menu, the policy summary ----------------------------------


@pytest.mark.parametrize(
    ("headers", "country", "language", "channel"),
    [
        # The factory's channel was never checked with the network: "Not verified".
        (EN, "Italy", "Italian", "Mastodon · Not verified"),
        (IT, "Italia", "italiano", "Mastodon · Non verificato"),
    ],
)
def test_client_page_shows_names_not_codes(
    owner_client, agency, headers, country, language, channel
):
    bellavista = make_client(agency, "Bellavista", country="IT", language="it")
    make_channel(agency, bellavista, name="Bellavista on Mastodon")
    page = page_of(owner_client.get(f"/a/{agency.slug}/clients/{bellavista.id}", headers=headers))
    values = {dd.text for dd in page.find("dd")}
    assert country in values and language in values
    assert "IT" not in values and "it" not in values
    summary = page.by_id("channel-summary").text
    assert channel in summary and "connected" not in summary and "not_verified" not in summary


def test_policy_summary_lists_the_reminders(owner_client, agency):
    bellavista = make_client(agency, "Bellavista")
    make_policy(agency, bellavista, reminder_hours=[2, 24])
    page = page_of(owner_client.get(f"/a/{agency.slug}/clients/{bellavista.id}", headers=EN))
    assert "Reminders: 24, 2 hours before the deadline" in page.by_id("policy-summary").text


@pytest.mark.parametrize("path", ["/account", "/account/tokens"])
def test_pages_outside_an_agency_keep_the_agency_menu(owner_client, agency, path):
    page = page_of(owner_client.get(path, headers=EN))
    menu = {a.text: a.get("href") for a in page.find("a", class_="nav-link")}
    assert menu.get("Dashboard") == f"/a/{agency.slug}/"
    assert menu.get("Clients") == f"/a/{agency.slug}/clients/"
    assert page.by_id("agency-switcher").text == "Aurora Social"
    # Not the current page: nothing in the agency menu claims to be.
    assert not [a for a in page.find("a", class_="nav-link") if a.get("aria-current")]


def test_the_menu_follows_the_agency_last_used(client):
    first = make_agency("Alpha Social")
    second = make_agency("Beta Social", owner=owner_of(first))
    sign_in(client, owner_of(first))
    client.get(f"/a/{second.slug}/")
    page = page_of(client.get("/account", headers=EN))
    assert page.by_id("agency-switcher").text == "Beta Social"
    client.get(f"/a/{first.slug}/")
    page = page_of(client.get("/account", headers=EN))
    assert page.by_id("agency-switcher").text == "Alpha Social"


def test_the_menu_never_shows_an_agency_the_user_left(client, agency):
    other = make_agency("Gamma Social", owner=owner_of(agency))
    sign_in(client, owner_of(agency))
    client.get(f"/a/{other.slug}/")
    membership = db.session.scalar(select(Membership).where(Membership.agency_id == other.id))
    membership.active = False
    db.session.commit()
    page = page_of(client.get("/account", headers=EN))
    assert "Gamma Social" not in page.by_id("agency-switcher").text
    assert page.by_id("agency-switcher").text == "Aurora Social"  # the only one left


# --- Favicon and error pages ----------------------------------------------------------------


def test_favicon_is_a_real_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # ICO header: reserved 0, type 1 (icon)
    assert b"PNG" in response.data


@pytest.fixture
def failing_app(make_app):
    app = make_app(flask_config={"PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():  # noqa: ANN202
        raise RuntimeError("planted")

    return app


@pytest.mark.parametrize(
    ("headers", "expected", "absent"),
    [
        (IT, "Qualcosa è andato storto", "Internal Server Error"),
        (EN, "Something went wrong", "Errore"),
    ],
)
def test_the_500_page_speaks_the_readers_language(failing_app, headers, expected, absent):
    with failing_app.app_context():
        response = failing_app.test_client().get("/boom", headers=headers)
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert expected in html and absent not in html
    assert '<html lang="%s"' % ("it" if headers is IT else "en") in html


def test_the_404_page_is_localized_and_titled(owner_client):
    page = page_of(owner_client.get("/a/nowhere/", headers=IT))
    assert page.title.startswith("404 — Pagina non trovata")
