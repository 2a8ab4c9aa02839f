"""Invoice statuses in words, in the reader's language: one mapping for every page and PDF.

Context ``invoice status``: "Open" is a verb elsewhere in the interface ("Apri"), and in
Italian the status agrees with *fattura* (feminine: Aperta, Pagata, Annullata).
"""

from __future__ import annotations

from flask_babel import lazy_pgettext

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
