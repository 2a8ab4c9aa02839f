"""FatturaPA XML (FPR12, B2B, schema 1.2.2) from an :class:`InvoiceDocument`.

Pure: no database. :func:`check` lists every field the SDI would reject before anything is
built, so finance sees all of them at once (``ExportRefused``, a 422 / form message naming
each field). Credit notes are ``TD04`` with ``DatiFattureCollegate``; amounts are printed
positive (the document type says which way they go).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from xml.etree import ElementTree as ET

from flask_babel import gettext as _

from billing.documents import DocumentLine, InvoiceDocument, Party, VatBucket
from billing.exports import ExportRefused, minor_exponent, to_decimal

NS = "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
FORMAT = "FPR12"
FOREIGN_RECIPIENT = "XXXXXXX"  # CodiceDestinatario of a buyer outside Italy
PEC_RECIPIENT = "0000000"  # CodiceDestinatario when the SDI delivers to the PEC
FOREIGN_CAP = "00000"
NATURES = ("N1", "N2.1", "N2.2", "N3.1", "N3.2", "N3.3", "N3.4", "N3.5", "N3.6", "N4", "N5")
NATURES += ("N6.1", "N6.2", "N6.3", "N6.4", "N6.5", "N6.6", "N6.7", "N6.8", "N6.9", "N7")
_CF_RE = re.compile(r"^[A-Z0-9]{11,16}$")
_CAP_RE = re.compile(r"^\d{5}$")
_PROVINCE_RE = re.compile(r"^[A-Z]{2}$")
_SDI_RE = re.compile(r"^[A-Z0-9]{7}$")
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Unicode the Latin-1 types of the schema cannot carry, with the text accountants expect.
_LATIN_REPLACEMENTS = {"€": "EUR", "‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"}
_LATIN_REPLACEMENTS |= {"…": "...", "•": "-", "\u00a0": " "}


@dataclass(frozen=True)
class FatturaPAFile:
    filename: str  # IT01234567890_0A1B2.xml (SDI naming rules)
    content: bytes  # UTF-8 XML with declaration


# -- checks --------------------------------------------------------------------------------


def _latin(text: str, limit: int) -> str:
    """``text`` in the Basic Latin + Latin-1 range the schema's *Latin types allow."""
    out = []
    for char in text:
        if ord(char) < 256 and (char.isprintable() or char == " "):
            out.append(char)
        elif char in _LATIN_REPLACEMENTS:
            out.append(_LATIN_REPLACEMENTS[char])
        elif char in "\r\n\t":
            out.append(" ")
        else:
            folded = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in folded if ord(c) < 256 and c.isprintable()) or "?")
    return "".join(out).strip()[:limit]


def _tax_code(party: Party) -> str | None:
    """The VAT number without its country prefix (``IdCodice``)."""
    vat = (party.vat_id or "").replace(" ", "").upper()
    if vat[:2].isalpha():
        vat = vat[2:]
    return vat or None


def _check_party(role: str, party: Party, errors: dict[str, list[str]], *, seller: bool) -> None:
    def missing(field: str, message: str) -> None:
        errors.setdefault(f"{role}.{field}", []).append(message)

    italian = party.country == "IT"
    if not party.name or not party.name.strip():
        missing("name", _("The legal name is missing."))
    if not party.country:
        missing("country", _("The country is missing."))
    if seller:
        if not _tax_code(party):
            missing("vat_id", _("The seller's VAT id is missing."))
        if party.tax_regime not in {f"RF{n:02d}" for n in range(1, 20)} - {"RF03"}:
            missing("tax_regime", _("The seller's tax regime (RF01–RF19) is missing."))
    elif not _tax_code(party) and not party.fiscal_code:
        missing("vat_id", _("The buyer needs a VAT id or a fiscal code."))
    if party.fiscal_code and not _CF_RE.match(party.fiscal_code.upper()):
        missing("fiscal_code", _("The fiscal code has 11 to 16 letters or digits."))
    if not party.address or not party.address.strip():
        missing("address", _("The street address is missing."))
    elif len(_latin(party.address, 1000)) > 60:
        missing("address", _("The street address is longer than 60 characters."))
    if not party.city or not party.city.strip():
        missing("city", _("The city is missing."))
    if italian:
        if not party.postal_code or not _CAP_RE.match(party.postal_code):
            missing("postal_code", _("An Italian address needs a 5-digit postal code (CAP)."))
        if not party.province or not _PROVINCE_RE.match(party.province):
            missing("province", _("An Italian address needs the two-letter province code."))
    if not seller and italian:
        sdi = (party.sdi_code or "").upper()
        if sdi and not _SDI_RE.match(sdi):
            missing("sdi_code", _("The SDI code has exactly 7 letters or digits."))
        elif (not sdi or sdi == PEC_RECIPIENT) and not party.pec:
            missing("sdi_code", _("Italian buyers need an SDI code or a PEC address."))


def required(doc: InvoiceDocument) -> bool:
    """Whether the invoice must exist as a FatturaPA: an Italian seller billing an Italian buyer
    (domestic B2B goes through the SDI only; a foreign buyer's invoice is valid as a PDF)."""
    return doc.seller.country == "IT" and doc.buyer.country == "IT"


def check(doc: InvoiceDocument) -> None:
    """Raise ``ExportRefused`` naming every field the SDI would reject; return if all is well."""
    errors = problems(doc)
    if errors:
        raise ExportRefused(errors)


def problems(doc: InvoiceDocument, *, numbered: bool = True) -> dict[str, list[str]]:
    """Every field the SDI would reject, by field (``seller.city``); ``numbered=False`` checks a
    draft about to be finalized (its number comes with finalization)."""
    errors: dict[str, list[str]] = {}
    _check_party("seller", doc.seller, errors, seller=True)
    if doc.seller.country and doc.seller.country != "IT":
        errors.setdefault("seller.country", []).append(
            _("FatturaPA is for sellers established in Italy.")
        )
    _check_party("buyer", doc.buyer, errors, seller=False)
    if numbered and not doc.number:
        errors["number"] = [_("A draft has no number: finalize the invoice first.")]
    if not doc.lines:
        errors["lines"] = [_("The invoice has no lines.")]
    for n, line in enumerate(doc.lines, start=1):
        if line.vat_rate == 0 and line.vat_nature not in NATURES:
            errors[f"lines.{n}.vat_nature"] = [
                _("A line without VAT needs its nature (N1–N7) for the SDI.")
            ]
    if doc.kind == "credit_note" and not doc.related_number:
        errors["related_number"] = [_("A credit note must name the invoice it corrects.")]
    if doc.payment_method == "bank_transfer" and not doc.seller.iban:
        errors["seller.iban"] = [_("Bank transfer needs the agency's IBAN (agency settings).")]
    if minor_exponent(doc.currency) > 2:
        errors["currency"] = [_("FatturaPA amounts have two decimals at most.")]
    return errors


# -- naming --------------------------------------------------------------------------------


def progressive_for(doc: InvoiceDocument) -> str:
    """A 5-character progressive unique per seller: year, kind and sequence of the number.

    ``2026/0001`` → the year's last two digits, a bit for credit notes, and the sequence,
    packed in base 36 (room for 199,999 documents of each kind a year).
    """
    digits = re.findall(r"\d+", doc.number)
    year = int(digits[0]) if len(digits) > 1 else doc.issue_date.year
    sequence = int(digits[-1]) if digits else 0
    value = ((year % 100) * 2 + (doc.kind == "credit_note")) * 200_000 + sequence % 200_000
    out = ""
    for _step in range(5):
        value, rest = divmod(value, 36)
        out = _BASE36[rest] + out
    return out


def filename_for(doc: InvoiceDocument) -> str:
    """``IT`` + the transmitter's id + ``_`` + progressive + ``.xml`` (SDI naming rules)."""
    return f"{doc.seller.country or 'IT'}{_transmitter_code(doc.seller)}_{progressive_for(doc)}.xml"


def _transmitter_code(seller: Party) -> str:
    return (seller.fiscal_code or _tax_code(seller) or "").upper()


# -- building ------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _money(amount_minor: int, doc: InvoiceDocument, sign: int) -> str:
    return f"{to_decimal(amount_minor * sign, doc.currency).quantize(Decimal('0.01')):f}"


def _rate(rate: Decimal) -> str:
    return f"{Decimal(rate).quantize(Decimal('0.01')):f}"


def _quantity(quantity: Decimal) -> str:
    value = abs(Decimal(quantity)).normalize()
    return f"{value.quantize(Decimal('0.01')) if value.as_tuple().exponent >= -2 else value:f}"


def _unit_price(line: DocumentLine, doc: InvoiceDocument, sign: int) -> str:
    value = to_decimal(line.unit_price_minor * sign, doc.currency)
    return f"{value.quantize(Decimal('0.01')) if value.as_tuple().exponent >= -2 else value:f}"


def _party(parent: ET.Element, tag: str, party: Party, *, seller: bool) -> None:
    node = _sub(parent, tag)
    data = _sub(node, "DatiAnagrafici")
    code = _tax_code(party)
    if code:
        vat = _sub(data, "IdFiscaleIVA")
        _sub(vat, "IdPaese", party.country)
        _sub(vat, "IdCodice", code[:28])
    if party.fiscal_code:
        _sub(data, "CodiceFiscale", party.fiscal_code.upper())
    registry = _sub(data, "Anagrafica")
    _sub(registry, "Denominazione", _latin(party.name, 80))
    if seller:
        _sub(data, "RegimeFiscale", party.tax_regime)
    office = _sub(node, "Sede")
    _sub(office, "Indirizzo", _latin(party.address or "", 60))
    italian = party.country == "IT"
    _sub(office, "CAP", party.postal_code if italian else FOREIGN_CAP)
    _sub(office, "Comune", _latin(party.city or "", 60))
    if italian:
        _sub(office, "Provincia", party.province)
    _sub(office, "Nazione", party.country)


def _transmission(header: ET.Element, doc: InvoiceDocument) -> None:
    node = _sub(header, "DatiTrasmissione")
    sender = _sub(node, "IdTrasmittente")
    _sub(sender, "IdPaese", doc.seller.country)
    _sub(sender, "IdCodice", _transmitter_code(doc.seller)[:28])
    _sub(node, "ProgressivoInvio", progressive_for(doc))
    _sub(node, "FormatoTrasmissione", FORMAT)
    buyer = doc.buyer
    if buyer.country != "IT":
        _sub(node, "CodiceDestinatario", FOREIGN_RECIPIENT)
        return
    sdi = (buyer.sdi_code or "").upper() or PEC_RECIPIENT
    _sub(node, "CodiceDestinatario", sdi)
    if sdi == PEC_RECIPIENT and buyer.pec:
        _sub(node, "PECDestinatario", buyer.pec)


def _general(body: ET.Element, doc: InvoiceDocument, sign: int) -> None:
    general = _sub(body, "DatiGenerali")
    node = _sub(general, "DatiGeneraliDocumento")
    _sub(node, "TipoDocumento", "TD04" if doc.kind == "credit_note" else "TD01")
    _sub(node, "Divisa", doc.currency)
    _sub(node, "Data", doc.issue_date.isoformat())
    _sub(node, "Numero", doc.number[:20])
    _sub(node, "ImportoTotaleDocumento", _money(doc.total_minor, doc, sign))
    if doc.notes:
        _sub(node, "Causale", _latin(doc.notes, 200))
    if doc.kind == "credit_note" and doc.related_number:
        linked = _sub(general, "DatiFattureCollegate")
        _sub(linked, "IdDocumento", doc.related_number[:20])
        if doc.related_date:
            _sub(linked, "Data", doc.related_date.isoformat())


def _lines(body: ET.Element, doc: InvoiceDocument, sign: int) -> None:
    goods = _sub(body, "DatiBeniServizi")
    for n, line in enumerate(doc.lines, start=1):
        node = _sub(goods, "DettaglioLinee")
        _sub(node, "NumeroLinea", str(n))
        _sub(node, "Descrizione", _latin(line.description, 1000) or "-")
        _sub(node, "Quantita", _quantity(line.quantity))
        _sub(node, "PrezzoUnitario", _unit_price(line, doc, sign))
        _sub(node, "PrezzoTotale", _money(line.amount_minor, doc, sign))
        _sub(node, "AliquotaIVA", _rate(line.vat_rate))
        if line.vat_rate == 0:
            _sub(node, "Natura", line.vat_nature)
    for bucket in _buckets(doc):
        node = _sub(goods, "DatiRiepilogo")
        _sub(node, "AliquotaIVA", _rate(bucket.rate))
        if bucket.rate == 0:
            _sub(node, "Natura", bucket.nature)
        _sub(node, "ImponibileImporto", _money(bucket.taxable_minor, doc, sign))
        _sub(node, "Imposta", _money(bucket.vat_minor, doc, sign))
        if bucket.rate != 0:
            _sub(node, "EsigibilitaIVA", "I")
        else:
            _sub(node, "RiferimentoNormativo", _latin(_nature_reference(bucket.nature), 100))


def _buckets(doc: InvoiceDocument) -> tuple[VatBucket, ...]:
    """The document's buckets, with the nature of zero-rate buckets taken from their lines."""
    natures = {line.vat_nature for line in doc.lines if line.vat_rate == 0 and line.vat_nature}
    out = []
    for bucket in doc.vat:
        if bucket.rate == 0 and not bucket.nature and len(natures) == 1:
            bucket = VatBucket(bucket.rate, bucket.taxable_minor, bucket.vat_minor, *natures)
        out.append(bucket)
    return tuple(out)


def _nature_reference(nature: str | None) -> str:
    return {
        "N2.1": "Operazione non soggetta, art. 7-ter DPR 633/72",
        "N3.2": "Cessione intracomunitaria non imponibile",
        "N4": "Operazione esente",
    }.get(nature or "", f"Natura {nature}")


def _payment(body: ET.Element, doc: InvoiceDocument, sign: int) -> None:
    node = _sub(body, "DatiPagamento")
    _sub(node, "CondizioniPagamento", "TP02")  # paid in full at once
    detail = _sub(node, "DettaglioPagamento")
    # MP05 bank transfer; MP08 payment card, which is how a Stripe invoice is mostly paid.
    _sub(detail, "ModalitaPagamento", "MP05" if doc.payment_method == "bank_transfer" else "MP08")
    if doc.due_date:
        _sub(detail, "DataScadenzaPagamento", doc.due_date.isoformat())
    _sub(detail, "ImportoPagamento", _money(doc.total_minor, doc, sign))
    if doc.seller.iban:
        _sub(detail, "IBAN", doc.seller.iban.replace(" ", "").upper())


def build(doc: InvoiceDocument) -> FatturaPAFile:
    """The FPR12 XML of ``doc`` (checked first: ``ExportRefused`` names what is missing)."""
    check(doc)
    # Credit notes (and invoices a service stored with negative amounts) print positive.
    sign = -1 if doc.total_minor < 0 else 1
    ET.register_namespace("p", NS)
    ET.register_namespace("ds", NS_DS)
    ET.register_namespace("xsi", NS_XSI)
    root = ET.Element(f"{{{NS}}}FatturaElettronica", {"versione": FORMAT})
    header = _sub(root, "FatturaElettronicaHeader")
    _transmission(header, doc)
    _party(header, "CedentePrestatore", doc.seller, seller=True)
    _party(header, "CessionarioCommittente", doc.buyer, seller=False)
    body = _sub(root, "FatturaElettronicaBody")
    _general(body, doc, sign)
    _lines(body, doc, sign)
    _payment(body, doc, sign)
    content = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return FatturaPAFile(filename=filename_for(doc), content=content)
