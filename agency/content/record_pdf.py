"""The approval record as a PDF: one block per decision, with the exact text decided on.

fpdf2 builds the document in memory (a PDF's cross-reference table comes last); rows are
read in batches and written as they come, so only the document itself grows.
"""

from __future__ import annotations

from flask_babel import gettext as _

from agency.content.models import aware
from agency.db import utcnow
from agency.pdf import FAMILY, new_document


def _labels() -> dict[str, str]:
    return {
        "approve": _("Approved"),
        "request_changes": _("Changes requested"),
        "reject": _("Rejected"),
        "internal": _("Agency review"),
        "client": _("Client approval"),
        "web": _("on the web"),
        "link": _("via e-mailed link"),
        "api": _("through the API"),
    }


def render(agency_name: str, client_name: str, rows) -> bytes:  # noqa: ANN001
    labels = _labels()
    title = _("Approval record: %(client)s", client=client_name)
    pdf = new_document(title=title)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(FAMILY, "B", 14)
    pdf.multi_cell(width, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    generated = utcnow().strftime("%Y-%m-%d %H:%M")
    pdf.multi_cell(
        width, 5, _("%(agency)s · generated %(when)s UTC", agency=agency_name, when=generated),
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.ln(3)
    count = 0
    for approval, kind, content_hash, body, name, email in rows:
        count += 1
        when = aware(approval.created_at).strftime("%Y-%m-%d %H:%M:%S")
        pdf.set_font(FAMILY, "B", 10)
        heading = f"{labels.get(approval.decision, approval.decision)} · {when} UTC"
        pdf.multi_cell(width, 6, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 9)
        person = f"{name} <{email}>" if email else (name or _("(deleted user)"))
        lines = [
            _("Person: %(person)s", person=person),
            _("Step: %(step)s · Channel: %(via)s", step=labels.get(approval.step, approval.step),
              via=labels.get(approval.via, approval.via)),
            _("Post %(post)s (%(kind)s) · revision %(n)d", post=approval.post_id, kind=kind,
              n=approval.revision_number),
            _("Revision hash (SHA-256): %(hash)s", hash=content_hash),
        ]  # fmt: skip
        if approval.comment:
            lines.append(_("Comment: %(comment)s", comment=approval.comment))
        if approval.voided_at:
            lines.append(_("Superseded by a later revision."))
        for line in lines:
            pdf.multi_cell(width, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "B", 9)
        pdf.multi_cell(width, 5, _("Text decided on:"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FAMILY, "", 9)
        pdf.set_fill_color(242, 242, 242)
        pdf.multi_cell(width, 5, body or "", fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    if not count:
        pdf.multi_cell(width, 5, _("No decisions yet."), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
