"""Invoice PDFs in the client's language (Unicode font), and the ZIP of a period's PDFs."""

from __future__ import annotations

import io
import zipfile

from pypdf import PdfReader

from billing.pdf import pdf_filename, render_pdf, zip_chunks
from tests.billing_documents import buyer, credit_note_for, document


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    # pypdf may space out justified words; compare on single spaces.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_italian_client_gets_an_italian_pdf_with_iban_totals_and_due_date(app):
    text = pdf_text(render_pdf(document(language="it")))

    assert "Fattura 2026/0001" in text
    assert "Scadenza 31 dic 2026" in text
    assert "Totale da pagare: 1.213,90 €" in text
    assert "IBAN IT60 X054 2811 1010 0000 0123 456" in text
    assert "Pasticceria Ghiotta S.n.c." in text and "Aurora Social S.r.l." in text
    assert "22 % 995,00 € 218,90 €" in text  # the VAT bucket
    assert "Partita IVA: IT00743110157" in text


def test_english_client_gets_english_labels_and_unicode_text_survives(app):
    doc = document(
        language="en",
        buyer=buyer(name="Ωmega Café Zürich", country="CH", province=None, sdi_code=None),
        currency="GBP",
    )
    text = pdf_text(render_pdf(doc))

    assert "Invoice 2026/0001" in text
    assert "Due date 31 Dec 2026" in text
    assert "Total due: £1,213.90" in text
    assert "Ωmega Café Zürich" in text
    assert "Switzerland" in text


def test_credit_note_pdf_names_the_invoice_it_corrects(app):
    invoice = document(language="en")
    text = pdf_text(render_pdf(credit_note_for(invoice)))
    assert "Credit note 2026/0002" in text
    assert "Corrects invoice 2026/0001" in text
    assert "-€1,213.90" in text


def test_draft_is_labelled_draft_and_stripe_invoices_point_at_the_payment_link(app):
    text = pdf_text(render_pdf(document(number="", language="en", payment_method="stripe")))
    assert "Draft invoice" in text
    assert "e-mail from Stripe" in text


def test_period_zip_holds_one_pdf_per_invoice_built_one_at_a_time(app):
    pulled: list[int] = []

    def documents():
        for n in range(1, 4):
            pulled.append(n)
            yield document(number=f"2026/{n:04d}", language="en")
        pulled.append(99)
        yield credit_note_for(document(language="en"), number="2026/0004")

    chunks = zip_chunks(documents())
    first = next(chunks)
    # Streamed: the first chunk (one PDF) is out before the second invoice is even read.
    assert pulled == [1] and len(first) > 1000
    archive = zipfile.ZipFile(io.BytesIO(first + b"".join(chunks)))

    assert archive.namelist() == [
        "2026-0001.pdf",
        "2026-0002.pdf",
        "2026-0003.pdf",
        "credit-note-2026-0004.pdf",
    ]
    assert "Invoice 2026/0002" in pdf_text(archive.read("2026-0002.pdf"))
    assert archive.testzip() is None


def test_pdf_file_names_never_contain_a_slash():
    assert pdf_filename(document(number="2026/0007")) == "2026-0007.pdf"
    assert pdf_filename(document(number="")) == "draft.pdf"
