"""Invoice statuses (and invoice runs' progress) in words, in the reader's language: one
mapping for every page and PDF.

Context ``invoice status``: "Open" is a verb elsewhere in the interface ("Apri"), and in
Italian the status agrees with *fattura* (feminine: Aperta, Pagata, Annullata).
"""

from __future__ import annotations

from flask_babel import gettext, lazy_pgettext, ngettext

STATUS_LABELS = {
    "draft": lazy_pgettext("invoice status", "Draft"),
    "open": lazy_pgettext("invoice status", "Open"),
    "paid": lazy_pgettext("invoice status", "Paid"),
    "void": lazy_pgettext("invoice status", "Void"),
    "uncollectible": lazy_pgettext("invoice status", "Uncollectible"),
}


def status_label(status: object) -> str:
    """``"open"`` → "Open" / "Aperta"; an unknown status is shown as it is."""
    key = str(getattr(status, "value", status))
    return str(STATUS_LABELS[key]) if key in STATUS_LABELS else key


def run_message(status: object, done: int, total: int) -> str:
    """An invoice run's state in words (the job's own status names are RQ's: ``queued``,
    ``started``, ``finished``, ``failed``…), in the reader's language."""
    key = str(getattr(status, "value", status))
    if key in ("queued", "deferred", "scheduled"):
        return gettext("Waiting for a worker to start the run…")
    if key == "finished":
        if not total:
            return gettext("Finished: there was no client to bill.")
        return ngettext(
            "Finished: %(done)s of %(num)d client done.",
            "Finished: %(done)s of %(num)d clients done.",
            total,
            done=done,
        )
    if key == "failed":
        return gettext(
            "The run stopped with an error after %(done)s of %(total)s clients. Starting it "
            "again is safe: finalized invoices are never touched.",
            done=done,
            total=total,
        )
    if key in ("canceled", "stopped"):
        return gettext(
            "The run was stopped after %(done)s of %(total)s clients.", done=done, total=total
        )
    if not total:
        return gettext("Started: counting the clients to bill…")
    return ngettext(
        "Working: %(done)s of %(num)d client done.",
        "Working: %(done)s of %(num)d clients done.",
        total,
        done=done,
    )
