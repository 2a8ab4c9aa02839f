"""Every page carries a Content-Security-Policy that allows only the app's own files, and no
page needs more: no inline script, no inline style, no ``on*=`` handler. Secure cookies are
the default behind an https:// public URL."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from agency.config import Settings
from agency.web.security_headers import CONTENT_SECURITY_POLICY
from tests.world import IGNORED_METHODS, build_world, sign_in
from tests.world import fill as _fill

REQUIRED_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'self'",
}


class InlineCode(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, styles and event handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _value in attrs}
        if tag == "script":
            self._in_script = "src" not in names
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"<{tag} {n}=>" for n in names if n == "style" or n.startswith("on")]
        for name, value in attrs:
            if name in ("href", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"inline <script>{data.strip()[:40]}")


def _directives(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value.strip()
    return out


def test_the_policy_is_strict():
    directives = _directives(CONTENT_SECURITY_POLICY)
    for name, value in REQUIRED_DIRECTIVES.items():
        assert directives.get(name) == value, name
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def _page_urls(app, world) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) - IGNORED_METHODS
        if "GET" not in methods or rule.rule.startswith(("/static", "/bootstrap")):
            continue
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "apidocs.index":
            continue  # JSON and Swagger UI's own files
        if rule.endpoint.startswith("mail."):
            continue  # the demo outbox: a mail preview keeps its own stricter policy
        url, problems = _fill(rule, world.slug, world.objects)
        assert not problems, problems
        urls.append(url)
    return urls


def test_every_html_page_has_the_policy_and_no_inline_code(app, database_url):
    world = build_world()
    client = app.test_client()
    seen: dict[str, int] = {}
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, world.users["owner"])
        for url in _page_urls(app, world):
            response = client.get(url)
            assert response.status_code < 500, (url, response.status_code)
            header = response.headers.get("Content-Security-Policy")
            assert header == CONTENT_SECURITY_POLICY, (url, header)
            if response.mimetype != "text/html":
                continue
            parser = InlineCode()
            parser.feed(response.get_data(as_text=True))
            assert not parser.found, (url, parser.found)
            seen[url] = response.status_code
    # The sweep saw real pages, not only redirects to the login form.
    rendered = [url for url, status in seen.items() if status == 200]
    assert len(rendered) >= 15, rendered
    assert any(url.startswith("/a/") and "/clients/" in url for url in rendered)
    assert "/api/v1/docs/" in rendered and "/login" in seen


def test_api_docs_start_swagger_from_a_file(client):
    html = client.get("/api/v1/docs/").get_data(as_text=True)
    script = re.search(r'<script src="(/static/apidocs\.js[^"]*)"', html)
    assert script, html
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    js = client.get(script.group(1))
    assert js.status_code == 200 and b"SwaggerUIBundle" in js.data


def test_api_responses_carry_the_policy_too(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({}, False),
        ({"REGIA_BASE_URL": "http://regia.example"}, False),
        ({"REGIA_BASE_URL": "https://regia.example"}, True),
        ({"REGIA_BASE_URL": "HTTPS://regia.example/"}, True),
        ({"REGIA_BASE_URL": "https://regia.example", "REGIA_SECURE_COOKIES": "false"}, False),
        ({"REGIA_BASE_URL": "http://regia.example", "REGIA_SECURE_COOKIES": "true"}, True),
    ],
)
def test_secure_cookies_default_on_behind_https(tmp_path, env, secure):
    settings = Settings.from_env(env={**env, "REGIA_INSTANCE_PATH": str(tmp_path)})
    assert settings.secure_cookies is secure


def test_https_base_url_makes_the_session_cookie_secure(make_app, database_url):
    from dataclasses import replace

    from agency.app import create_app

    base = make_app().config["REGIA"]
    settings = Settings.from_env(
        env={"REGIA_BASE_URL": "https://regia.example"},
        **{
            k: getattr(base, k)
            for k in ("instance_path", "database_url", "redis_url", "secret_key")
        },
        encryption_keys=base.encryption_keys,
        testing=True,
    )
    app = create_app(replace(settings))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
