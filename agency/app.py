"""The application factory: wires settings, extensions, blueprints and CLI. Nothing at import."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, has_app_context, has_request_context, request, session
from flask import current_app as _current_app

from agency.config import Settings
from agency.db import db
from agency.errors import DomainError
from agency.extensions import api, babel, bootstrap, csrf, limiter, login_manager
from agency.jobs import RedisHolder, redis_url
from agency.web import input_guard, json_body, security_headers

SUPPORTED_LOCALES = ("en", "it")


def create_app(config: dict[str, Any] | Settings | None = None) -> Flask:
    """Build a Flask app. ``config`` may be a ``Settings`` or overrides for ``Settings``."""
    if isinstance(config, Settings):
        settings, flask_overrides = config.validated(), {}
    else:
        overrides = dict(config or {})
        flask_overrides = overrides.pop("FLASK", {})
        settings = Settings.from_env(**overrides)

    import agency.models  # noqa: F401 - every mapper configured before the first query

    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        REGIA=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES="translations",
        BOOTSTRAP_SERVE_LOCAL=True,
        API_TITLE="Regia API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 2},
    )
    app.config.update(flask_overrides)
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    db.init_app(app)
    RedisHolder().init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limits_uri(redis_url(app)))
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    bootstrap.init_app(app)
    api.init_app(app, spec_kwargs=_openapi_spec_kwargs())
    input_guard.init_app(app)
    json_body.init_app(app)
    security_headers.init_app(app)

    _register_blueprints(app)
    _register_error_handlers(app)
    _register_cli(app)
    return app


def _limits_uri(url: str) -> str:
    # The `limits` package spells a unix-socket Redis as redis+unix://.
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def _openapi_spec_kwargs() -> dict[str, Any]:
    return {
        "info": {"description": "Regia's JSON API. Authenticate with `Authorization: Bearer`."},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }


def select_locale() -> str | None:
    """The user's saved language, else the footer switch's choice, else the language of the
    e-mail whose link was followed (``?lang=``), else the browser's."""
    from flask_login import current_user

    if not has_request_context():
        return None  # jobs and CLI: the default, unless they wrap work in force_locale()
    saved = getattr(current_user, "locale", None) if current_user.is_authenticated else None
    if saved in SUPPORTED_LOCALES:
        return saved
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    emailed = request.args.get("lang")  # a link in an e-mail says the e-mail's language
    if emailed in SUPPORTED_LOCALES:
        return emailed
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or "en"


def _register_blueprints(app: Flask) -> None:
    from agency import localtime, numbers
    from agency.accounts import views as accounts_views
    from agency.channels import api as channels_api
    from agency.channels import cli as channels_cli
    from agency.channels import views as channels_views
    from agency.clients import api as clients_api
    from agency.clients import views as clients_views
    from agency.content import api as content_api
    from agency.content import inbox_views, review_views
    from agency.content import views as content_views
    from agency.mail import views as mail_views
    from agency.notifications import views as notification_views
    from agency.publishing import api as publishing_api
    from agency.publishing import views as publishing_views
    from agency.team import api as team_api
    from agency.team import views as team_views
    from agency.web import apidocs, context, health, views
    from agency.workflow import api as workflow_api
    from agency.workflow import views as workflow_views
    from billing import api as billing_api
    from billing import export_api, export_views, stripe_api, stripe_views, webhook_views
    from billing import views as billing_views
    from tenants import api as tenants_api
    from tenants import views as tenants_views
    from tenants import web as tenants_web

    tenants_web.init_app(app)
    context.init_app(app)
    localtime.init_app(app)
    numbers.init_app(app)
    for blueprint in (health.bp, tenants_views.bp, views.bp, apidocs.bp, mail_views.bp):
        app.register_blueprint(blueprint)
    for blueprint in (accounts_views.bp,):
        app.register_blueprint(blueprint)
    # Feature packages, in the order their menu items appear.
    for feature in (
        clients_views,
        content_views,
        inbox_views,
        channels_views,
        workflow_views,
        team_views,
        billing_views,
        notification_views,
        stripe_views,
        export_views,
    ):
        feature.init_app(app)
    review_views.init_app(app)
    publishing_views.init_app(app)
    for feature_api in (tenants_api, clients_api, channels_api, workflow_api, team_api):
        feature_api.register(api)
    content_api.register(api)
    publishing_api.register(api)
    billing_api.register(api)
    stripe_api.register(api)
    export_api.register(api)
    channels_cli.init_app(app)
    webhook_views.init_app(app)


def _register_error_handlers(app: Flask) -> None:
    from agency.web.errors import handle_domain_error

    app.register_error_handler(DomainError, handle_domain_error)


def _register_cli(app: Flask) -> None:
    from agency import cli

    cli.init_app(app)


_job_app: Flask | None = None


def app_for_jobs() -> Flask:
    """The app a job runs in: the current one, or one built once per worker process."""
    global _job_app
    if has_app_context():
        return _current_app._get_current_object()  # type: ignore[attr-defined]
    if _job_app is None:
        _job_app = create_app()
    return _job_app
