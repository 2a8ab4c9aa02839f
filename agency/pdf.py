"""PDF documents (approval records, invoices) with fpdf2 and a bundled Unicode font.

fpdf2's core fonts cover Latin-1 only; DejaVu Sans (agency/static/fonts, Bitstream Vera
licence, see LICENSE-DejaVu.txt) covers every accented Latin letter, Greek, Cyrillic and more,
and fpdf2 embeds only the glyphs a document uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_DIR = Path(__file__).parent / "static" / "fonts"
FAMILY = "DejaVu"


def new_document(*, title: str = "", orientation: str = "portrait") -> FPDF:
    """An A4 FPDF with the Unicode font registered (regular and bold) and selected."""
    from fpdf import FPDF  # here, not at import: fpdf2 costs 0.3 s to import, every process

    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_creator("Regia")
    if title:
        pdf.set_title(title)
    pdf.add_font(FAMILY, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_font(FAMILY, size=10)
    pdf.set_auto_page_break(auto=True, margin=15)
    return pdf
