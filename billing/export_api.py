"""Finance export endpoints (owner and finance): FatturaPA XML of an invoice, the CSV register
or lines of a date range (streamed), and a ZIP of the range's PDFs (streamed)."""

from __future__ import annotations

import uuid

from flask import g, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import RAISE, Schema, fields, validate

from billing import export_service

blp = Blueprint("api-billing-exports", __name__, url_prefix="/api/v1", description="Billing")


class RangeArgs(Schema):
    from_ = fields.Date(
        data_key="from", metadata={"description": "First issue date (default: last month)."}
    )
    to = fields.Date(metadata={"description": "Last issue date, inclusive."})


class CsvArgs(RangeArgs):
    kind = fields.String(validate=validate.OneOf(export_service.KINDS))
    bom = fields.Boolean(metadata={"description": "Start with a UTF-8 byte-order mark (Excel)."})
    delimiter = fields.String(validate=validate.OneOf([",", ";", "comma", "semicolon"]))


@blp.route("/invoices/<uuid:invoice_id>/fatturapa")
class InvoiceFatturaPA(MethodView):
    @blp.response(200, {"type": "string"}, content_type="application/xml")
    @blp.alt_response(422, description="Fiscal data missing or invalid, field named in `errors`.")
    def get(self, invoice_id: uuid.UUID):
        """The finalized invoice as FatturaPA XML (FPR12)."""
        return export_service.fatturapa_response(g.access, invoice_id)


@blp.route("/exports/invoices.csv")
class InvoicesCsv(MethodView):
    @blp.arguments(CsvArgs, location="query", unknown=RAISE)
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    @blp.alt_response(422, description="Bad query parameter, named in `errors`.")
    def get(self, _args: dict):
        """The invoice register (one row per invoice) or its lines, streamed."""
        name, chunks = export_service.csv_export_for(g.access, request.args)
        return export_service.download(g.access.agency.id, name, chunks, "text/csv")


@blp.route("/exports/invoices.zip")
class InvoicesZip(MethodView):
    @blp.arguments(RangeArgs, location="query", unknown=RAISE)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/zip")
    @blp.alt_response(422, description="Bad query parameter, named in `errors`.")
    def get(self, _args: dict):
        """One PDF per finalized invoice and credit note of the range, as a ZIP, streamed."""
        name, chunks = export_service.zip_export_for(g.access, request.args)
        return export_service.download(g.access.agency.id, name, chunks, "application/zip")


def register(api: Api) -> None:
    from agency.extensions import csrf

    csrf.exempt(blp)
    api.register_blueprint(blp)
