"""Response headers every page gets: no MIME sniffing, no framing by other sites, no
leaking of URLs (invitation and review links carry tokens) to other origins."""

from __future__ import annotations

from flask import Flask, Response, current_app


def init_app(app: Flask) -> None:
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config["REGIA"].secure_cookies:  # served over HTTPS
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
