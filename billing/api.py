"""Billing API: rate cards, time entries, invoice runs, invoices and their lifecycle."""

from __future__ import annotations

import uuid

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import RAISE

from agency.clients.service import get_client
from agency.extensions import csrf
from billing import invoices, jobs, lifecycle, rates, timelog
from billing.pdf import pdf_filename, render_pdf
from billing.schemas import (
    GenerateIn,
    InvoiceListArgs,
    InvoiceListOut,
    InvoiceOut,
    RateCardIn,
    RateCardOut,
    RunOut,
    TimeEntryIn,
    TimeEntryOut,
)

blp = Blueprint("api-billing", __name__, url_prefix="/api/v1", description="Billing")


def _out(invoice, lines=None) -> dict:  # noqa: ANN001
    data = {field: getattr(invoice, field) for field in InvoiceOut().fields if field != "lines"}
    data["lines"] = lines if lines is not None else invoices.lines_of(invoice.id)
    return data


@blp.route("/clients/<uuid:client_id>/rate-card")
class RateCardResource(MethodView):
    @blp.response(200, RateCardOut)
    def get(self, client_id: uuid.UUID):
        """The rate card in force today (finance, owner); 404 until one is saved."""
        rates.require_billing(g.access)
        client = get_client(g.access, client_id)
        card = rates.current_card(client)
        if card is None:
            from agency.errors import NotFound

            raise NotFound("No rate card in force for this client.")
        return card

    @blp.arguments(RateCardIn)
    @blp.response(200, RateCardOut)
    @blp.alt_response(422, description="Field errors in `errors.json`.")
    def put(self, data: dict, client_id: uuid.UUID):
        """A new version of the client's rate card, from `effective_from` (same date: replaced)."""
        rates.require_billing(g.access)
        client = get_client(g.access, client_id)
        return rates.save_rate_card(g.access, client, data, via="api")


@blp.route("/time-entries")
class TimeEntries(MethodView):
    @blp.arguments(TimeEntryIn)
    @blp.response(201, TimeEntryOut)
    @blp.alt_response(404, description="No such client (or not one of yours).")
    @blp.alt_response(422, description="Field errors in `errors.json`.")
    def post(self, data: dict):
        """Log time for a client (owner, manager, staff on their assigned clients)."""
        return timelog.log_time(g.access, data, via="api")


@blp.route("/invoices/generate")
class GenerateInvoices(MethodView):
    @blp.arguments(GenerateIn)
    @blp.response(202, RunOut)
    @blp.alt_response(404, description="No such client.")
    @blp.alt_response(422, description="Field errors in `errors.json`.")
    def post(self, data: dict):
        """Start an invoice run (a `billing` job): drafts for the period, all clients or one.

        Re-running replaces the period's drafts; finalized invoices are never touched."""
        rates.require_billing(g.access)
        client_id = data.get("client_id")
        if client_id is not None:
            get_client(g.access, client_id)
        run_id = jobs.enqueue_run(g.access.agency.id, data["period"], client_id)
        return jobs.run_status(g.access.agency.id, run_id)


@blp.route("/invoices")
class Invoices(MethodView):
    @blp.arguments(InvoiceListArgs, location="query", unknown=RAISE)
    @blp.response(200, InvoiceListOut)
    def get(self, args: dict):
        """Invoices and credit notes, newest period first (client managers: their own)."""
        limit = args.pop("limit")
        items, next_cursor = invoices.list_invoices(g.access, limit=limit, **args)
        lines = invoices.lines_by_invoice(items)
        return {"items": [_out(i, lines[i.id]) for i in items], "next_cursor": next_cursor}


@blp.route("/invoices/<uuid:invoice_id>")
class InvoiceResource(MethodView):
    @blp.response(200, InvoiceOut)
    def get(self, invoice_id: uuid.UUID):
        """One invoice with its lines and totals."""
        invoices.require_reader(g.access)
        return _out(invoices.get_invoice(g.access, invoice_id))


@blp.route("/invoices/<uuid:invoice_id>/finalize")
class InvoiceFinalize(MethodView):
    @blp.response(200, InvoiceOut)
    @blp.alt_response(409, description="Not a draft, or no lines.")
    @blp.alt_response(
        422, description="An Italian invoice's FatturaPA data is incomplete: `errors` names each."
    )
    def post(self, invoice_id: uuid.UUID):
        """Finalize a draft: a gapless number, frozen lines; handed to Stripe if connected."""
        return _out(lifecycle.finalize(g.access, invoice_id, via="api"))


@blp.route("/invoices/<uuid:invoice_id>/void")
class InvoiceVoid(MethodView):
    @blp.response(200, InvoiceOut)
    @blp.alt_response(409, description="Not open or uncollectible.")
    def post(self, invoice_id: uuid.UUID):
        """Void an open invoice; its number stays used."""
        return _out(lifecycle.void(g.access, invoice_id, via="api"))


@blp.route("/invoices/<uuid:invoice_id>/credit-note")
class InvoiceCreditNote(MethodView):
    @blp.response(201, InvoiceOut)
    @blp.alt_response(409, description="Draft, void, or already credited.")
    def post(self, invoice_id: uuid.UUID):
        """Issue the credit note netting this invoice to zero (`NC-YYYY/NNNN`); returns it."""
        return _out(lifecycle.credit_note(g.access, invoice_id, via="api"))


@blp.route("/invoices/<uuid:invoice_id>/mark-paid")
class InvoiceMarkPaid(MethodView):
    @blp.response(200, InvoiceOut)
    @blp.alt_response(409, description="Not open.")
    def post(self, invoice_id: uuid.UUID):
        """Mark an open invoice paid by hand (bank transfer); recorded in the audit log."""
        return _out(lifecycle.mark_paid(g.access, invoice_id, via="api"))


@blp.route("/invoices/<uuid:invoice_id>/pdf")
class InvoicePdf(MethodView):
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
    def get(self, invoice_id: uuid.UUID):
        """The invoice as PDF (finance; client managers for their own company's)."""
        return pdf_response(invoice_id)


def pdf_response(invoice_id: uuid.UUID) -> Response:
    from agency.db import db

    invoices.require_reader(g.access)
    invoice = invoices.get_invoice(g.access, invoice_id)
    doc = invoices.document_for(db.session, invoice.id)
    return Response(
        render_pdf(doc),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{pdf_filename(doc)}"'},
    )


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)
