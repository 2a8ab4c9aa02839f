"""Clients API: ``GET, POST /api/v1/clients``; ``GET, PATCH /api/v1/clients/{id}``."""

from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import RAISE

from agency.clients import details, service
from agency.clients.schemas import (
    ClientCreateIn,
    ClientListArgs,
    ClientListOut,
    ClientOut,
    ClientPatchIn,
    ClientSavedOut,
)
from agency.extensions import csrf
from agency.web.json_out import iso, json_response, uid

blp = Blueprint("api-clients", __name__, url_prefix="/api/v1", description="Client companies")


@blp.route("/clients")
class Clients(MethodView):
    # Unknown query parameters are refused (422 in errors.query), as the document says.
    @blp.arguments(ClientListArgs, location="query", unknown=RAISE)
    @blp.response(200, ClientListOut)
    def get(self, args: dict):
        """Visible clients, by name; pass `next_cursor` back as `cursor` for the next page."""
        rows, next_cursor = service.list_client_rows(
            g.access, status=args.get("status"), cursor=args.get("cursor"), limit=args["limit"]
        )
        return json_response({"items": [client_json(r) for r in rows], "next_cursor": next_cursor})

    @blp.arguments(ClientCreateIn)
    @blp.response(201, ClientSavedOut)
    @blp.alt_response(422, description="Field errors in `errors.json`.")
    def post(self, data: dict):
        """Onboard a client company (owner, manager).

        Currency, time zone and language default to the agency's; `warnings` names another
        client with the same VAT id."""
        client = service.create_client(g.access, data, via="api")
        return _saved(client)


@blp.route("/clients/<uuid:client_id>")
class ClientResource(MethodView):
    @blp.response(200, ClientOut)
    def get(self, client_id: uuid.UUID):
        """One client company."""
        return service.get_client(g.access, client_id)

    @blp.arguments(ClientPatchIn)
    @blp.response(200, ClientSavedOut)
    @blp.alt_response(409, description="Illegal status transition.")
    @blp.alt_response(422, description="Field errors in `errors.json`.")
    def patch(self, data: dict, client_id: uuid.UUID):
        """Change details and/or `status` (active, paused, offboarded)."""
        client = service.get_manageable_client(g.access, client_id)
        status = data.pop("status", None)
        return _saved(service.patch_client(g.access, client, data, status, via="api"))


def client_json(row) -> dict:  # noqa: ANN001 - a row of service.LISTED_COLUMNS
    """A ``ClientOut`` object, as the schema would dump it (a hot list: no marshmallow)."""
    out = row._asdict()
    out["id"] = uid(out["id"])
    out["created_at"] = iso(out["created_at"])
    return out


def _saved(client) -> dict:  # noqa: ANN001
    out = {field: getattr(client, field) for field in ClientOut().fields}
    out["warnings"] = details.vat_warnings(client)
    return out


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)
