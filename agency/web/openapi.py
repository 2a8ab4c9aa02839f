"""Completes the OpenAPI document flask-smorest derives from the code, from the route map.

What every operation can answer does not depend on the operation's own code but on the
layers around it (token resolution, the input guard, the body parser), so it is added here
once, for every API route, including routes added later:

- public endpoints (``tenants.web.public_endpoint``) declare ``security: []``; the others
  keep the document's bearer auth and list 401 and 403;
- 400 (malformed input) everywhere; 404 where the path names an object; 415 and 422 where
  there is a body; 422 where there are query parameters; 429 on public endpoints (throttled);
- every error response has the error shape of DESIGN.md §9, and no catch-all ``default``
  response hides an undocumented status.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from marshmallow import Schema, fields

API_PREFIX = "/api/v1/"
_PARAM_RE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

REASONS = {
    400: "Malformed request: invalid JSON, or a character no field can hold.",
    401: "No bearer token, or the token is invalid, revoked or its member inactive.",
    403: "The member's role does not allow this.",
    404: "No such object (or it belongs to another agency).",
    409: "Conflicts with the object's current state.",
    415: "The body must be JSON (`Content-Type: application/json`).",
    422: "Field errors in `errors.json` (body), `errors.query` or `errors.path`.",
    429: "Too many attempts; retry later.",
}


class ErrorSchema(Schema):
    """The error shape of every 4xx answer (DESIGN.md §9)."""

    code = fields.Integer(required=True, metadata={"description": "The HTTP status."})
    status = fields.String(required=True, metadata={"description": "Its reason phrase."})
    message = fields.String(metadata={"description": "What went wrong, for people."})
    errors = fields.Dict(
        keys=fields.String(),
        metadata={"description": "Field errors by location: `json`, `query`, `path`."},
    )


def openapi_path(rule: str) -> str:
    return _PARAM_RE.sub(r"{\1}", rule)


def _public_paths(app: Flask) -> set[tuple[str, str]]:
    from tenants.web import is_public

    public = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX) and is_public(rule.endpoint):
            for method in rule.methods or ():
                public.add((openapi_path(rule.rule), method.lower()))
    return public


def complete(document: dict[str, Any], app: Flask) -> dict[str, Any]:
    """``document`` with security and error responses added to every operation."""
    public = _public_paths(app)
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            codes = {400}
            if (path, method) in public:
                operation["security"] = []
                codes.add(429)
            else:
                codes |= {401, 403}
            if "{" in path:
                codes.add(404)
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
                codes |= {415, 422}
            if any(p.get("in") == "query" for p in operation.get("parameters", [])):
                codes.add(422)
            for code in sorted(codes):
                responses.setdefault(str(code), {"description": REASONS[code]})
            for code, response in responses.items():
                if code.startswith("4") and "$ref" not in response:
                    response.setdefault("content", error_content)
            operation["responses"] = dict(sorted(responses.items()))
    document.setdefault("components", {}).setdefault("schemas", {})
    return document
