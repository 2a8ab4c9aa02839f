"""Finance export pages under /a/<agency_slug>/billing: the export form, the CSV and ZIP
downloads (streamed) and an invoice's FatturaPA XML. Owner and finance only."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_login import login_required

from agency.errors import ValidationFailed
from billing import export_service, rates
from billing.forms import ExportForm

bp = Blueprint(
    "billing_exports",
    __name__,
    url_prefix="/a/<agency_slug>/billing",
    template_folder="templates",
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _form() -> ExportForm:
    form = ExportForm(request.args)
    if not request.args:
        start, end = export_service.recent_range().label
        form.date_from.data, form.date_to.data = start, end
    return form


def _page(form: ExportForm, status: int = 200, empty: str | None = None):  # noqa: ANN202
    return render_template("billing/exports.html", form=form, empty=empty), status


@bp.get("/exports")
@login_required
def exports(agency_slug: str):  # noqa: ANN201
    rates.require_billing(g.access)
    return _page(_form())


@bp.get("/exports/invoices.csv")
@login_required
def csv(agency_slug: str):  # noqa: ANN201
    return _download(export_service.csv_export_for, "text/csv")


@bp.get("/exports/invoices.zip")
@login_required
def zip(agency_slug: str):  # noqa: A001, ANN201
    return _download(export_service.zip_export_for, "application/zip")


def _download(build, media_type: str):  # noqa: ANN001, ANN202
    """The export ``build`` makes for the form's query, or the page again with its errors."""
    form = _form()
    try:
        name, chunks = build(g.access, form.query(), refuse_empty=True)
    except export_service.EmptyExport as exc:  # nothing to download: say so, keep the form
        return _page(form, empty=exc.message)
    except ValidationFailed as exc:
        form.show_service_errors(exc.errors)
        return _page(form, 422)
    return export_service.download(g.access.agency.id, name, chunks, media_type)


@bp.get("/invoices/<uuid:invoice_id>/fatturapa")
@login_required
def fatturapa(agency_slug: str, invoice_id: uuid.UUID):  # noqa: ANN201
    try:
        return export_service.fatturapa_response(g.access, invoice_id)
    except ValidationFailed as exc:  # bad fiscal data: say which, on the invoice's page
        flash(exc.message, "danger")
        for field, messages in sorted(exc.errors.items()):
            for message in messages:
                flash(f"{field}: {message}", "danger")
        return redirect(url_for("billing.invoice", invoice_id=invoice_id))
