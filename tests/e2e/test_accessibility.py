"""The accessibility gate (issue #11): axe-core on every page every demo role can reach.

For each language (English, Italian), every demo role signs in (and an anonymous visitor
looks at the sign-in pages), then the test crawls every same-origin page linked from the menus
and pages, opens the menus, and submits each form empty to see its error state. axe runs on
each of those states at both widths (1366 px desktop, 375 px phone: the viewport is resized,
not the page loaded twice); any violation of impact serious or critical fails the test with
the page, the rule and the nodes. At neither width may a page scroll sideways (a desktop
menu too wide for 1366 px is as broken as a table too wide for a phone). The menus are opened
at each width (the phone's collapsed navigation, the desktop's dropdowns).
"""

from __future__ import annotations

import re
import time
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import Page

from agency.demo import DEMO_PASSWORD, USERS, seed_demo
from tenants.models import Role
from tests.e2e import axe
from tests.factories import make_channel

# Not crawled, with the reason.
SKIPPED_PREFIXES = (
    "/static/",  # files, not pages
    "/bootstrap/",
    "/favicon.ico",
    "/api/",  # Swagger UI's API browser: third-party, English-only (checked upstream)
)
# A crawl that reaches this many routes fails (it would stop before the last pages): the
# bound only stops a runaway crawl, it never decides which pages are checked.
MAX_PAGES_PER_ROLE = 150
# One page per route: another client's edit page, or another week of the calendar, is the same
# template and form. Ids, dates and cursors in the path or the query are the same route.
_SAME_ROUTE = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"(?<=[?&]cursor=)[^&]+"), "<cursor>"),
)
# The least a role must have reached, so a broken login or menu cannot pass as "no findings".
MIN_PAGES = {
    "anonymous": 2,
    "owner": 12,
    "manager": 10,
    "staff": 4,
    "finance": 3,
    "client_manager": 3,
    "client_viewer": 3,
}
LANGUAGES = ("en", "it")
WIDTHS = (1366, 375)


def _seed() -> None:
    """The demo agency, plus what makes every table and summary show: channels, a policy,
    a pending invitation."""
    from sqlalchemy import select

    from agency.db import db
    from agency.team import invitations
    from tenants.context import tenant_context
    from tenants.models import ClientCompany, User
    from tenants.service import load_access

    agency, _logins = seed_demo()
    with tenant_context(agency.id):
        trattoria = db.session.scalar(
            select(ClientCompany).where(ClientCompany.name.like("Trattoria%"))
        )
    with tenant_context(agency.id):
        northwind = db.session.scalar(
            select(ClientCompany).where(ClientCompany.name.like("Northwind%"))
        )
    for client in (trattoria, northwind):
        make_channel(agency, client, name=f"{client.name[:9]} on Mastodon")
    make_channel(agency, trattoria, network="manual", name="Forum della cucina", status="disabled")
    from agency.workflow.models import ApprovalPolicy

    with tenant_context(agency.id):  # the demo seeds Trattoria's policy with its posts
        policy = db.session.scalar(
            select(ApprovalPolicy).where(ApprovalPolicy.client_id == trattoria.id)
        )
        policy.reminder_hours, policy.lead_time_hours = [24, 2], 48
        db.session.commit()
    owner = db.session.scalar(select(User).where(User.email == USERS[0][1]))
    access = load_access(owner, agency)
    invitations.create_invitation(
        access, "nuova.persona@bellavista.example", "client_viewer", client_id=trattoria.id
    )


def route_of(path: str) -> str:
    for pattern, placeholder in _SAME_ROUTE:
        path = pattern.sub(placeholder, path)
    return path


class Crawl:
    def __init__(self, page: Page, base_url: str, label: str) -> None:
        self.page = page
        self.base = urlsplit(base_url)
        self.label = label
        self.findings: list[axe.Finding] = []
        self.visited: list[str] = []
        self.routes: set[str] = set()
        self.audits = dict.fromkeys(WIDTHS, 0)

    @property
    def width(self) -> int:
        return self.page.viewport_size["width"]

    def resize(self, width: int) -> None:
        if width != self.width:
            self.page.set_viewport_size({"width": width, "height": 900})

    def check(self, state: str, widths: tuple[int, ...] = WIDTHS) -> None:
        """axe and sideways scrolling on the page as it is, at each of
        ``widths``; the current width first, so a page state costs one resize, not two."""
        for width in sorted(widths, key=lambda w: w != self.width):
            self.resize(width)
            where = f"{self.label} {width}px {state}"
            self.findings += axe.audit(self.page, where)
            self.audits[width] += 1
            self.findings += axe.sideways_scroll(self.page, where)

    def local_path(self, href: str) -> str | None:
        url = urlsplit(urldefrag(href)[0])
        if (url.scheme, url.netloc) != (self.base.scheme, self.base.netloc):
            return None
        path = url.path + (f"?{url.query}" if url.query else "")
        if path.startswith(SKIPPED_PREFIXES):
            return None
        return path

    def open_menus(self, path: str) -> None:
        """At each width, from a freshly loaded page: the collapsed navigation (phone) opened,
        then each dropdown opened in turn."""
        page = self.page
        for width in WIDTHS:
            self.resize(width)
            page.goto(path)
            toggler = page.locator(".navbar-toggler")
            if toggler.count() and toggler.is_visible():
                toggler.click()
                page.locator("#nav.show").wait_for()
                self.check(f"{path} (menu open)", (width,))
            toggles = page.locator("[data-bs-toggle=dropdown]")
            for i in range(toggles.count()):
                toggle = toggles.nth(i)
                toggle.click()
                page.locator(".dropdown-menu.show").first.wait_for()
                self.check(f"{path} (dropdown {toggle.inner_text().strip()!r} open)", (width,))
                page.keyboard.press("Escape")

    def submit_forms_empty(self, path: str) -> None:
        page = self.page
        # A form marked data-download answers with a file, not a page: nothing to audit.
        forms = "form[novalidate]:not([data-download])"
        count = page.locator(forms).count()
        for i in range(count):
            if i:  # the first form is submitted from the page as the crawl loaded it
                page.goto(path)
            form = page.locator(forms).nth(i)
            for field in form.locator(
                "input:not([type=hidden]):not([type=checkbox]):not([type=file]), textarea"
            ).all():
                if field.is_visible() and field.is_enabled():
                    field.fill("")
            with page.expect_navigation():
                form.locator("button[type=submit], button:not([type])").first.click()
            self.check(f"{path} (form {i + 1} submitted empty → {self.local_path(page.url)})")

    def run(self, start: str) -> None:
        queue = [start]
        seen: set[str] = set()
        first = True
        while queue:
            path = queue.pop(0)
            route = route_of(path)
            if path in seen or route in self.routes:
                continue
            seen.add(path)
            self.routes.add(route)
            response = self.page.goto(path)
            assert response is not None and response.status < 500, f"{path}: {response}"
            self.visited.append(path)
            assert len(self.visited) <= MAX_PAGES_PER_ROLE, f"runaway crawl: {self.visited}"
            self.check(path)
            if first:
                self.open_menus(path)
                self.page.goto(path)
                first = False
            hrefs = self.page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
            for href in hrefs:
                target = self.local_path(href)
                if target and target not in seen:
                    queue.append(target)
            self.submit_forms_empty(path)


def _switch_language(page: Page, lang: str) -> None:
    button = page.locator(f"footer button[name=locale][value={lang}]")
    if button.get_attribute("aria-current") != "true":
        with page.expect_navigation():
            button.click()


ROLES = [("anonymous", None)] + [(role.value, email) for role, email, _name in USERS]
CASES = [(lang, role, email) for lang in LANGUAGES for role, email in ROLES]


@pytest.mark.backend_independent
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("lang", "role", "email"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_page_has_no_serious_axe_violations(
    browser, live_server, app, lang: str, role: str, email: str | None
):
    _seed()
    context = browser.new_context(
        base_url=live_server.url,
        locale="it-IT" if lang == "it" else "en-GB",
        viewport={"width": WIDTHS[0], "height": 900},
    )
    context.set_default_timeout(20_000)
    axe.install(context)
    page = context.new_page()
    started = time.monotonic()
    try:
        page.goto("/login")
        _switch_language(page, lang)
        crawl = Crawl(page, live_server.url, f"[{role} {lang}]")
        if email is None:
            crawl.run("/login")
            crawl.run("/signup")
        else:
            page.locator("#email").fill(email)
            page.locator("#password").fill(DEMO_PASSWORD)
            with page.expect_navigation():
                page.locator("form button[type=submit]").click()
            _switch_language(page, lang)
            assert page.locator("html").get_attribute("lang") == lang
            crawl.run(crawl.local_path(page.url) or "/")
    finally:
        context.close()
    seconds = time.monotonic() - started
    print(f"{role} {lang}: {len(crawl.visited)} pages, audits {crawl.audits} in {seconds:.0f}s")
    assert len(crawl.visited) >= MIN_PAGES[role], f"crawl reached too few pages: {crawl.visited}"
    assert min(crawl.audits.values()) >= len(crawl.visited), f"every width: {crawl.audits}"
    assert not crawl.findings, axe.report(crawl.findings)


def test_the_gate_catches_a_planted_violation(browser, live_server, app):
    """The gate is not hollow: an unlabeled field and low-contrast text are reported."""
    context = browser.new_context(base_url=live_server.url)
    axe.install(context)
    page = context.new_page()
    try:
        page.goto("/login")
        page.evaluate(
            """() => {
              const main = document.querySelector('main');
              main.insertAdjacentHTML('beforeend',
                '<input id="planted"><p class="planted-grey">faint</p>');
              document.querySelector('.planted-grey').style.color = '#ddd';
            }"""
        )
        rules = {f.rule for f in axe.audit(page, "planted")}
        assert {"label", "color-contrast"} <= rules
        page.evaluate("() => document.querySelector('main').style.minWidth = '900px'")
        page.set_viewport_size({"width": 375, "height": 800})
        assert axe.sideways_scroll(page, "planted")
    finally:
        context.close()


def test_a_route_is_a_page_whatever_its_ids_dates_and_cursor():
    week = "/a/x/posts/calendar?view=week&date=2026-11-16"
    assert route_of(week) == route_of("/a/x/posts/calendar?view=week&date=2027-01-04")
    assert route_of(week) != route_of("/a/x/posts/calendar?view=month&date=2026-11-16")
    post = "/a/x/posts/3f1c0b8e-2f6d-4a57-9a3e-1d2c3b4a5f6e/edit"
    assert route_of(post) == "/a/x/posts/<id>/edit"
    assert (
        route_of("/a/x/notifications/?cursor=WzEsIjIwMjYi") == "/a/x/notifications/?cursor=<cursor>"
    )
    assert route_of("/a/x/clients/?status=active") != route_of("/a/x/clients/?status=paused")


def test_demo_roles_cover_every_role():
    assert {role for role, _email, _name in USERS} == set(Role)
