"""Extension instances, created unbound and wired in ``create_app``."""

from __future__ import annotations

from flask import current_app, has_app_context, request
from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

API_PREFIXES = ("/api/", "/webhooks/")


def wants_json() -> bool:
    return request.path.startswith(API_PREFIXES)


class RegiaApi(Api):
    """flask-smorest's Api, with DESIGN.md §9's error shape on API paths only."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        from agency.web.openapi import ErrorSchema

        self.ERROR_SCHEMA = ErrorSchema
        super().__init__(*args, **kwargs)

    def handle_http_exception(self, error):  # noqa: ANN001, ANN201
        if not wants_json():
            from agency.web.errors import render_error_page

            return render_error_page(error)
        from agency.web.api_errors import summary, translated

        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        payload.setdefault("errors", {})
        if code in (400, 422) and payload["errors"]:
            payload["errors"] = translated(payload["errors"])
            payload["message"] = summary(payload["errors"], payload["message"])
        # The exception's own headers (Allow on a 405, Retry-After...), minus its HTML type.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                headers.setdefault(name, value)
        return payload, code, headers

    def _openapi_json(self):  # noqa: ANN202
        from flask import current_app, json

        from agency.web.openapi import complete

        document = complete(self.spec.to_dict(), current_app)
        return current_app.response_class(
            json.dumps(document, indent=2, sort_keys=False), mimetype="application/json"
        )


class AppBoundLimiter(Limiter):
    """Flask-Limiter keeps one storage per extension object: the last app's it was given.
    Regia builds several apps in one process (tests, operator scripts), and an app built with
    another Redis must not rebind the first, so storage and strategy live on each app."""

    _APP_KEY = "regia_limiter_backend"

    def init_app(self, app) -> None:  # noqa: ANN001 - flask.Flask
        super().init_app(app)
        app.extensions[self._APP_KEY] = (
            self.__dict__.get("_own_storage"),
            self.__dict__.get("_own_limiter"),
        )

    def _bound(self, index: int, own: str):  # noqa: ANN202
        if has_app_context():
            backend = current_app.extensions.get(self._APP_KEY)
            if backend is not None:
                return backend[index]
        return self.__dict__.get(own)

    @property
    def _storage(self):  # noqa: ANN202
        return self._bound(0, "_own_storage")

    @_storage.setter
    def _storage(self, value) -> None:  # noqa: ANN001
        self.__dict__["_own_storage"] = value

    @property
    def _limiter(self):  # noqa: ANN202
        return self._bound(1, "_own_limiter")

    @_limiter.setter
    def _limiter(self, value) -> None:  # noqa: ANN001
        self.__dict__["_own_limiter"] = value


csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
limiter = AppBoundLimiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
api = RegiaApi()
bootstrap = Bootstrap5()
