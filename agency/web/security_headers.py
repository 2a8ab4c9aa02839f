"""Response headers every page gets: no MIME sniffing, no framing by other sites, no
leaking of URLs (invitation and review links carry tokens) to other origins, and a
Content-Security-Policy that allows only the app's own files (no inline script or style)."""

from __future__ import annotations

from flask import Flask, Response, current_app

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Bootstrap and Swagger UI draw icons from data: SVGs
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    )
)


def init_app(app: Flask) -> None:
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Referrer-Policy", "same-origin")
    # setdefault: a response with a stricter policy of its own (mail previews) keeps it.
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if current_app.config["REGIA"].secure_cookies:  # served over HTTPS
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
