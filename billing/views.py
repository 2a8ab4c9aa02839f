"""Finance pages under /a/<agency_slug>/billing: invoices, runs with progress, drafts, actions."""

from __future__ import annotations

import uuid
from datetime import date

from flask import (
    Blueprint,
    Flask,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from agency.db import db, utcnow
from agency.errors import IllegalTransition, NotFound, ValidationFailed
from agency.web.context import add_nav_item
from billing import chart, invoices, jobs, lifecycle, rates
from billing.forms import ManualLineForm, RunForm, rate_text
from billing.labels import run_message, status_label
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.money import display_money
from tenants.models import ClientCompany
from tenants.permissions import Permission

bp = Blueprint(
    "billing", __name__, url_prefix="/a/<agency_slug>/billing", template_folder="templates"
)

ACTIONS = {
    "finalize": (lifecycle.finalize, _l("Invoice finalized.")),
    "void": (lifecycle.void, _l("Invoice voided; its number stays used.")),
    "credit-note": (lifecycle.credit_note, _l("Credit note issued.")),
    "mark-paid": (lifecycle.mark_paid, _l("Invoice marked paid.")),
}


def init_app(app: Flask) -> None:
    from billing import setup_views

    app.register_blueprint(bp)
    setup_views.init_app(app)
    add_nav_item(
        app,
        "billing.index",
        _l("Billing"),
        Permission.BILLING,
        also=("billing_exports", "billing_stripe"),
    )
    app.jinja_env.filters["money"] = display_money
    app.jinja_env.globals["invoice_status"] = status_label


def _clients() -> dict[uuid.UUID, ClientCompany]:
    return {c.id: c for c in db.session.scalars(select(ClientCompany).order_by(ClientCompany.name))}


def last_month() -> str:
    today = date.today()
    return f"{today.year - 1}-12" if today.month == 1 else f"{today.year}-{today.month - 1:02d}"


@bp.get("/")
@login_required
def index(agency_slug: str):  # noqa: ANN201
    rates.require_billing(g.access)
    filters = {k: request.args.get(k) or None for k in ("period", "status", "client_id")}
    try:
        client_id = uuid.UUID(filters["client_id"]) if filters["client_id"] else None
        items, next_cursor = invoices.list_invoices(
            g.access,
            period=filters["period"],
            status=filters["status"],
            client_id=client_id,
            cursor=request.args.get("cursor") or None,
        )
    except (ValueError, ValidationFailed):
        flash(_("Those filters are not valid; showing every invoice."), "warning")
        return redirect(url_for("billing.index"))
    clients = _clients()
    form = RunForm(data={"period": last_month()})
    form.client_id.choices = [("", _("All clients with a rate card"))] + [
        (str(c.id), c.name) for c in clients.values()
    ]
    return render_template(
        "billing/index.html",
        invoices=items,
        next_cursor=next_cursor,
        clients=clients,
        filters=filters,
        statuses=list(InvoiceStatus),
        form=form,
        charts=chart.monthly_totals_svgs(),
        now=utcnow(),
    )


@bp.post("/runs")
@login_required
def start_run(agency_slug: str):  # noqa: ANN201
    rates.require_billing(g.access)
    form = RunForm()
    form.client_id.choices = [("", "")] + [(str(c), "") for c in _clients()]
    period = (form.period.data or "").strip()
    try:
        invoices.check_period(period)
        client_id = uuid.UUID(form.client_id.data) if form.client_id.data else None
        if client_id is not None and client_id not in _clients():
            raise ValidationFailed({"client_id": [_("No such client.")]})
    except ValueError:
        flash(_("No such client."), "danger")
        return redirect(url_for("billing.index")), 303
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "danger")
        return redirect(url_for("billing.index")), 303
    run_id = jobs.enqueue_run(g.access.agency.id, period, client_id)
    return redirect(url_for("billing.run", run_id=run_id))


def _run(run_id: str) -> dict:
    """The run's progress, with its state in the reader's words (``message``); ``status`` stays
    RQ's name for it, which the page's script reads."""
    rates.require_billing(g.access)
    status = jobs.run_status(g.access.agency.id, run_id)
    if status is None:
        raise NotFound(_("No such invoice run."))
    return {**status, "message": run_message(status["status"], status["done"], status["total"])}


@bp.get("/runs/<run_id>")
@login_required
def run(agency_slug: str, run_id: str):  # noqa: ANN201
    return render_template("billing/run.html", run=_run(run_id))


@bp.get("/runs/<run_id>/status")
@login_required
def run_status(agency_slug: str, run_id: str):  # noqa: ANN201
    return jsonify(_run(run_id))


@bp.get("/invoices/<uuid:invoice_id>")
@login_required
def invoice(agency_slug: str, invoice_id: uuid.UUID, line_form=None):  # noqa: ANN001, ANN201
    rates.require_billing(g.access)
    found = invoices.get_invoice(g.access, invoice_id)
    client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == found.client_id))
    related = None
    if found.credits_invoice_id:
        related = invoices.get_invoice(g.access, found.credits_invoice_id)
    return render_template(
        "billing/invoice.html",
        invoice=found,
        client=client,
        lines=invoices.lines_of(found.id),
        related=related,
        e_invoice=_e_invoice_problems(found),
        can_fix_agency=g.access.can(Permission.MANAGE_AGENCY),
        can_fix_client=g.access.can(Permission.MANAGE_CLIENTS, found.client_id),
        line_form=line_form
        or ManualLineForm(currency=found.currency, data={"vat_rate": _default_vat(found)}),
        now=utcnow(),
    ), 422 if line_form is not None and line_form.errors else 200


def _e_invoice_problems(found) -> dict[str, list[str]]:  # noqa: ANN001
    """The FatturaPA problems of the page's next step (finalizing a draft, or crediting a
    finalized invoice) by where they are fixed: ``seller`` (agency settings), ``buyer`` (the
    client's details), ``invoice`` (its lines or currency)."""
    if found.kind != InvoiceKind.INVOICE:
        return {}
    if found.status == InvoiceStatus.DRAFT:
        problems = lifecycle.e_invoice_problems(found)
    elif found.status in CREDITABLE and not _credited(found):
        problems = lifecycle.credit_note_problems(found)
    else:
        return {}
    grouped: dict[str, list[str]] = {}
    for field, messages in sorted(problems.items()):
        place = field.split(".", 1)[0]
        grouped.setdefault(place if place in ("seller", "buyer") else "invoice", []).extend(
            messages
        )
    return grouped


CREDITABLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def _credited(found) -> bool:  # noqa: ANN001
    return bool(
        db.session.scalar(
            select(select(Invoice.id).where(Invoice.credits_invoice_id == found.id).exists())
        )
    )


def _default_vat(found) -> str:  # noqa: ANN001
    card = rates.card_for_period(found.client_id, found.period)
    return rate_text(card.vat_rate) if card else ""


@bp.post("/invoices/<uuid:invoice_id>/lines")
@login_required
def add_line(agency_slug: str, invoice_id: uuid.UUID):  # noqa: ANN201
    found = invoices.editable_draft(g.access, invoice_id)
    form = ManualLineForm(currency=found.currency)
    data, unreadable = form.values()  # the numbers as typed in the page's locale
    try:
        if unreadable:
            # Every field's error at once: the others are checked with stand-in numbers.
            try:
                stand_ins = {"quantity": "1", "unit_amount": 100, "vat_rate": "0"}
                invoices.validate_manual_line(
                    {**data, **{name: stand_ins[name] for name in unreadable}}, found.currency
                )
                others = {}
            except ValidationFailed as exc:
                others = exc.errors
            raise ValidationFailed({**others, **unreadable})
        invoices.add_manual_line(g.access, found.id, data)
    except ValidationFailed as exc:
        form.show_errors(exc.errors)
    else:
        flash(_("Line added."), "success")
        return redirect(url_for("billing.invoice", invoice_id=found.id))
    return invoice(agency_slug, invoice_id, line_form=form)


@bp.post("/invoices/<uuid:invoice_id>/lines/<uuid:line_id>/delete")
@login_required
def delete_line(agency_slug: str, invoice_id: uuid.UUID, line_id: uuid.UUID):  # noqa: ANN201
    invoices.remove_line(g.access, invoice_id, line_id)
    flash(_("Line removed."), "success")
    return redirect(url_for("billing.invoice", invoice_id=invoice_id))


def act(agency_slug: str, invoice_id: uuid.UUID, action: str):  # noqa: ANN201
    fn, message = ACTIONS[action]
    try:
        result = fn(g.access, invoice_id)
    except (IllegalTransition, ValidationFailed) as exc:  # the page lists what to fix
        flash(exc.message, "danger")
        return redirect(url_for("billing.invoice", invoice_id=invoice_id)), 303
    flash(str(message), "success")
    return redirect(url_for("billing.invoice", invoice_id=result.id))


for _action in ACTIONS:
    bp.add_url_rule(
        f"/invoices/<uuid:invoice_id>/{_action}",
        endpoint=_action.replace("-", "_"),
        view_func=login_required(act),
        methods=["POST"],
        defaults={"action": _action},
    )


@bp.get("/invoices/<uuid:invoice_id>/pdf")
@login_required
def pdf(agency_slug: str, invoice_id: uuid.UUID):  # noqa: ANN201
    from billing.api import pdf_response

    return pdf_response(invoice_id)
