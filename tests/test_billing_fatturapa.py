"""FatturaPA FPR12 from an InvoiceDocument: every XML built here is validated against the
official XSD (../shared/data/fatturapa); bad fiscal data refuses export naming the field."""

from __future__ import annotations

import re
from dataclasses import replace
from xml.etree import ElementTree as ET

import pytest

from agency.errors import ValidationFailed
from billing import fatturapa
from billing.exports import ExportRefused
from tests.billing_documents import (
    IBAN,
    buyer,
    credit_note_for,
    document,
    fatturapa_schema,
    line,
    seller,
)

NS = {"p": fatturapa.NS}


def built(doc) -> ET.Element:  # noqa: ANN001
    """Build, validate against the XSD (raises on any schema error), parse."""
    produced = fatturapa.build(doc)
    fatturapa_schema().validate(produced.content)
    return ET.fromstring(produced.content)  # noqa: S314 - our own output


def text(root: ET.Element, path: str) -> list[str]:
    return [node.text for node in root.iterfind(path, NS)]


def test_invoice_validates_and_carries_totals_vat_and_bank_transfer():
    root = built(document())

    assert text(root, ".//TipoDocumento") == ["TD01"]
    assert text(root, ".//DatiGeneraliDocumento/Numero") == ["2026/0001"]
    assert text(root, ".//ImportoTotaleDocumento") == ["1213.90"]
    assert text(root, ".//DatiRiepilogo/ImponibileImporto") == ["995.00"]
    assert text(root, ".//DatiRiepilogo/Imposta") == ["218.90"]
    assert text(root, ".//DettaglioLinee/Quantita") == ["1.00", "2.00", "1.00", "1.50"]
    assert text(root, ".//ModalitaPagamento") == ["MP05"]
    assert text(root, ".//DettaglioPagamento/IBAN") == [IBAN]
    assert text(root, ".//DataScadenzaPagamento") == ["2026-12-31"]
    assert text(root, ".//CedentePrestatore//Provincia") == ["MI"]
    assert text(root, ".//CessionarioCommittente//CAP") == ["20124"]
    assert text(root, ".//CodiceDestinatario") == ["ABC1234"]


def test_credit_note_is_td04_linked_to_its_invoice_with_positive_amounts():
    invoice = document()
    root = built(credit_note_for(invoice))

    assert text(root, ".//TipoDocumento") == ["TD04"]
    assert text(root, ".//DatiFattureCollegate/IdDocumento") == ["2026/0001"]
    assert text(root, ".//DatiFattureCollegate/Data") == ["2026-12-01"]
    assert text(root, ".//ImportoTotaleDocumento") == ["1213.90"]
    assert text(root, ".//DettaglioLinee/PrezzoTotale")[0] == "800.00"


def test_buyer_served_by_pec_gets_seven_zeros_and_the_pec():
    root = built(document(buyer=buyer(sdi_code=None, pec="ghiotta@pec.example")))
    assert text(root, ".//CodiceDestinatario") == ["0000000"]
    assert text(root, ".//PECDestinatario") == ["ghiotta@pec.example"]


def test_foreign_buyer_without_vat_on_the_line_validates_with_nature():
    foreign = buyer(
        name="Bäckerei Müller GmbH",
        country="DE",
        vat_id="DE136695976",
        postal_code="10115",
        city="Berlin",
        province=None,
        sdi_code=None,
        address="Invalidenstraße 5",
    )
    lines = [line("Social media management", 1, 50000, "0", nature="N2.1")]
    root = built(document(lines, buyer=foreign))

    assert text(root, ".//CodiceDestinatario") == ["XXXXXXX"]
    assert text(root, ".//CessionarioCommittente//CAP") == ["00000"]
    assert text(root, ".//CessionarioCommittente//Provincia") == []
    assert text(root, ".//DatiRiepilogo/Natura") == ["N2.1"]
    assert text(root, ".//CessionarioCommittente//IdCodice") == ["136695976"]


def test_text_outside_latin1_is_transliterated_so_the_schema_accepts_it():
    lines = [line("Campagna “Natale” 🎄 — budget € 200, Ελλάδα", 1, 1000)]
    root = built(document(lines))
    (description,) = text(root, ".//Descrizione")
    assert '"Natale"' in description and "EUR 200" in description


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (document(buyer=buyer(vat_id=None, fiscal_code=None)), "buyer.vat_id"),
        (document(buyer=buyer(sdi_code=None, pec=None)), "buyer.sdi_code"),
        (document(buyer=buyer(sdi_code="0000000", pec=None)), "buyer.sdi_code"),
        (document(seller=seller(vat_id=None)), "seller.vat_id"),
        (document(seller=seller(tax_regime=None)), "seller.tax_regime"),
        (document(seller=seller(iban=None)), "seller.iban"),
        (document(buyer=buyer(province=None)), "buyer.province"),
        (document(buyer=buyer(postal_code="2012")), "buyer.postal_code"),
        (document(seller=seller(address="Via " + "x" * 70)), "seller.address"),
        (document(number=""), "number"),
        (replace(credit_note_for(document()), related_number=None), "related_number"),
        (document([line("Export", 1, 1000, "0")]), "lines.1.vat_nature"),
    ],
)
def test_bad_fiscal_data_refuses_export_naming_the_field(doc, field):  # noqa: ANN001
    with pytest.raises(ExportRefused) as refused:
        fatturapa.build(doc)

    assert field in refused.value.errors
    assert refused.value.errors[field][0]  # a message for the user
    assert field in refused.value.message
    # The views' 422 (API field errors, form messages) comes from ValidationFailed.
    assert isinstance(refused.value, ValidationFailed) and refused.value.http_status == 422


def test_all_problems_are_reported_at_once():
    doc = document(buyer=buyer(vat_id=None, sdi_code=None, city=None), seller=seller(iban=None))
    with pytest.raises(ExportRefused) as refused:
        fatturapa.build(doc)
    assert {"buyer.vat_id", "buyer.sdi_code", "buyer.city", "seller.iban"} <= set(
        refused.value.errors
    )


def test_file_names_follow_sdi_rules_and_differ_per_document():
    invoice = document()
    names = {
        fatturapa.filename_for(invoice),
        fatturapa.filename_for(document(number="2026/0002")),
        fatturapa.filename_for(document(number="2027/0001")),
        fatturapa.filename_for(credit_note_for(invoice, number="2026/0001")),
    }
    assert len(names) == 4
    for name in names:
        assert re.fullmatch(r"IT00743110157_[0-9A-Z]{5}\.xml", name), name
    produced = fatturapa.build(invoice)
    assert produced.filename == fatturapa.filename_for(invoice)
    root = ET.fromstring(produced.content)  # noqa: S314 - our own output
    progressive = text(root, ".//ProgressivoInvio")[0]
    assert produced.filename.endswith(f"_{progressive}.xml")
