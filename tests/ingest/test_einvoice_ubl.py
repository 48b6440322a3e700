"""The UBL reader (raxdoc.ingest.einvoice.ubl) on UBL 2.1 written from generated truth records
(raxdoc.testing.einvoice_ubl): values read back exactly, credit notes, allowances and charges,
price base quantities, sub-lines, missing optional parts, bad numbers, totals that do not add up."""

from __future__ import annotations

import functools
from decimal import Decimal

import pymupdf
import pytest
from lxml import etree

from raxdoc.ingest.einvoice import read_einvoice
from raxdoc.ingest.einvoice.guideline import profile_of
from raxdoc.ingest.einvoice.record import EInvoiceError
from raxdoc.ingest.einvoice.ubl import NS, parse_ubl
from raxdoc.ingest.einvoice.xml import safe_parse
from raxdoc.postprocess import checks
from raxdoc.schemas.invoice import Invoice
from raxdoc.testing.einvoice_ubl import UNIT_CODES, ubl_from_truth
from raxdoc.testing.invoices import generate_invoice

# (seed, locale, what it covers): 3 rates + units; 3 rates + line discounts + customer id;
# purchase order; 2 rates; US (no IBAN) with discounts; few columns; every column, 2 rates.
SEEDS = [0, 4, 5, 7, 14, 22, 34]


def parse(xml: bytes) -> etree._Element:
    return safe_parse(xml, "test.xml")


@functools.cache
def truth(seed: int) -> dict:
    return generate_invoice(seed).truth


def read(xml: bytes):
    return parse_ubl(parse(xml), source="test.xml")


def _truth_key(name: str, value: object) -> object:
    """A truth value in the form the XML states it (unit codes, IBAN without print spaces)."""
    if name == "unit":
        return UNIT_CODES[value]
    if name == "iban":
        return str(value).replace(" ", "")
    return value


def assert_matches_truth(got: Invoice, t: dict, skip: tuple[str, ...] = ()) -> None:
    """Every value the truth has, read back equal (compared after both sides are validated)."""
    header = {k: _truth_key(k, v) for k, v in t.items() if k in Invoice.model_fields and k != "line_items"}
    want = Invoice.model_validate(header)
    for name in header:
        if name not in skip:
            assert getattr(got, name) == getattr(want, name), name
    assert len(got.line_items) == len(t["line_items"])
    for i, row in enumerate(t["line_items"]):
        item = Invoice.model_validate({"line_items": [{k: _truth_key(k, v) for k, v in row.items()}]}).line_items[0]
        for name in row:
            if name not in ("page_index", "bbox"):
                assert getattr(got.line_items[i], name) == getattr(item, name), (i, name)


@pytest.mark.parametrize("seed", SEEDS)
def test_invoice_reads_back_the_truth(seed):
    t = truth(seed)
    customization = "peppol" if seed % 2 else "xrechnung"
    doc = ubl_from_truth(t, customization=customization)
    e = read(doc.xml)
    assert e.invoice == Invoice.model_validate(doc.expected)
    assert_matches_truth(e.invoice, t)
    assert (e.syntax, e.profile, e.document_type_code, e.is_credit_note) == (
        "UBL", customization.upper(), "380", False)
    assert e.guideline_id.startswith("urn:cen.eu:en16931:2017#compliant#")
    assert e.notes == ()
    assert e.invoice.amount_due == e.invoice.total and e.invoice.discount_total is None
    assert all(i.tax_rate is not None and i.unit for i in e.invoice.line_items)
    # The exact record passes the checks the model route runs.
    assert checks.lines_sum_subtotal(e.invoice.line_items, e.invoice) is True
    assert checks.subtotal_tax_total(e.invoice) is True
    assert checks.tax_breakdown_ok(e.invoice) is True
    assert all(checks.line_amount_ok(i) for i in e.invoice.line_items)


@pytest.mark.parametrize("seed", [0, 14])  # with an IBAN (due date in PaymentMeans), without (in PaymentTerms)
def test_credit_note(seed):
    t = truth(seed)
    doc = ubl_from_truth(t, credit_note=True, customization="peppol")
    assert b"<CreditNote" in doc.xml and b"CreditedQuantity" in doc.xml and b"<cbc:DueDate>" not in doc.xml
    e = read(doc.xml)
    assert e.is_credit_note and e.document_type_code == "381" and e.profile == "PEPPOL"
    assert e.invoice == Invoice.model_validate(doc.expected)
    assert_matches_truth(e.invoice, t)
    assert e.invoice.total > 0  # amounts as stated: positive in a credit note (record.py's convention)


def test_allowance_charge_base_quantity_several_rates():
    t = truth(34)  # two VAT rates, line discounts
    assert len(t["tax_breakdown"]) == 2 and any("discount" in r for r in t["line_items"])
    doc = ubl_from_truth(t, allowance=Decimal("25.00"), charge=Decimal("7.50"), base_quantity=Decimal(10))
    assert b"<cbc:BaseQuantity" in doc.xml
    e = read(doc.xml)
    inv = e.invoice
    assert inv == Invoice.model_validate(doc.expected)
    assert inv.discount_total == Decimal("17.50")
    changed = ("tax_breakdown", "tax_total", "total")
    assert_matches_truth(inv, t, skip=changed)  # unit prices divided back exactly, line discounts kept
    assert inv.tax_breakdown[0].base_amount == Decimal(t["tax_breakdown"][0]["base_amount"]) - Decimal("17.50")
    assert [r.rate for r in inv.tax_breakdown] == [Decimal(r["rate"]) for r in t["tax_breakdown"]]
    assert inv.total == inv.subtotal - inv.discount_total + inv.tax_total
    assert checks.subtotal_tax_total(inv) is True and checks.tax_breakdown_ok(inv) is True
    assert checks.lines_sum_subtotal(inv.line_items, inv) is True
    kinds = [k for k, _ in e.notes]
    assert kinds == ["document_charges"] + ["price_base_quantity"] * len(t["line_items"])


def test_charges_beyond_allowances_are_a_negative_discount_and_a_note():
    doc = ubl_from_truth(truth(5), charge=Decimal("12.00"))
    e = read(doc.xml)
    assert e.invoice.discount_total == Decimal("-12.00")
    assert e.invoice.total == e.invoice.subtotal + Decimal("12.00") + e.invoice.tax_total
    assert [k for k, _ in e.notes] == ["document_charges"]


@pytest.mark.parametrize("credit_note", [False, True])
def test_a_line_with_sub_lines_is_a_group_its_sub_lines_are_items(credit_note):
    t = truth(7)
    doc = ubl_from_truth(t, sub_lines=True, credit_note=credit_note)
    assert doc.xml.count(b"<cac:SubCreditNoteLine>" if credit_note else b"<cac:SubInvoiceLine>") == 2
    e = read(doc.xml)
    items = e.invoice.line_items
    assert e.invoice == Invoice.model_validate(doc.expected)
    assert [i.description for i in items[:2]] == ["Part one", "Part two"] and len(items) == len(t["line_items"]) + 1
    assert items[0].amount + items[1].amount == Decimal(t["line_items"][0]["amount"])
    assert checks.lines_sum_subtotal(items, e.invoice) is True
    assert [k for k, _ in e.notes] == ["subline_group"] and e.notes[0][1].startswith("line 1 (")


def _minimal(body: str, root: str = "Invoice") -> bytes:
    ns = f"urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
    return (f'<{root} xmlns="{ns}" '
            'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
            'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
            f"{body}</{root}>").encode()


LINE = ('<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="C62">3</cbc:InvoicedQuantity>'
        '<cbc:LineExtensionAmount currencyID="EUR">10.00</cbc:LineExtensionAmount>'
        '<cac:Item><cbc:Description>{desc}</cbc:Description><cbc:Name>Widget</cbc:Name></cac:Item>'
        '<cac:Price><cbc:PriceAmount currencyID="EUR">{price}</cbc:PriceAmount>{base}</cac:Price></cac:InvoiceLine>')


def test_missing_optional_parts_read_as_none():
    xml = _minimal("<cbc:ID>R-1</cbc:ID><cbc:IssueDate>2025-01-31</cbc:IssueDate><cbc:InvoiceTypeCode>380"
                   "</cbc:InvoiceTypeCode><cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
                   + LINE.format(desc="", price="10.00", base="<cbc:BaseQuantity/>"))
    e = read(xml)
    inv = e.invoice
    assert (inv.invoice_number, str(inv.issue_date), inv.currency) == ("R-1", "2025-01-31", "EUR")
    assert inv.model_dump(exclude_none=True, exclude={"line_items"}) == {
        "invoice_number": "R-1", "issue_date": inv.issue_date, "currency": "EUR", "tax_breakdown": []}
    (item,) = inv.line_items
    assert (item.description, item.quantity, item.unit, item.unit_price, item.amount) == (
        "Widget", 3, "C62", Decimal("10.00"), Decimal("10.00"))
    assert item.tax_rate is None and item.discount is None and item.product_code is None
    assert (e.profile, e.guideline_id) == ("", "")


def test_price_per_base_quantity_and_description():
    xml = _minimal("<cbc:ID>R-2</cbc:ID>" + LINE.format(
        desc="Blue, 10 mm", price="10.00", base='<cbc:BaseQuantity unitCode="C62">3</cbc:BaseQuantity>'))
    e = read(xml)
    (item,) = e.invoice.line_items
    assert item.description == "Widget Blue, 10 mm"
    assert item.unit_price == Decimal("3.333333")  # 10 / 3 to the stored scale, and said so
    assert [k for k, _ in e.notes] == ["unit_price_rounded", "price_base_quantity"]


@pytest.mark.parametrize("tag,bad", [("cbc:InvoicedQuantity", "1,5"), ("cbc:PayableAmount", "1.2e3"),
                                     ("cbc:TaxAmount", "NaN"), ("cbc:IssueDate", "31.12.2024")])
def test_bad_number_names_the_element(tag, bad):
    root = parse(ubl_from_truth(truth(0)).xml)
    target = root.findall(f".//{tag}", NS)[-1]  # the last: for InvoicedQuantity, a later line's
    target.text = bad
    with pytest.raises(EInvoiceError) as err:
        parse_ubl(root, source="bad.xml")
    assert err.value.source == "bad.xml" and repr(bad) in err.value.message
    assert err.value.message.startswith(f"{tag} (line {target.sourceline}): ")
    assert target.sourceline > 1  # the line in the file, so the element can be found


def test_totals_that_do_not_add_up_still_read():
    root = parse(ubl_from_truth(truth(5)).xml)
    root.find(".//cbc:TaxInclusiveAmount", NS).text = "1.00"
    root.find("cac:InvoiceLine/cbc:LineExtensionAmount", NS).text = "0.01"
    inv = parse_ubl(root).invoice
    assert inv.total == Decimal("1.00") and inv.line_items[0].amount == Decimal("0.01")
    assert checks.subtotal_tax_total(inv) is False
    assert checks.lines_sum_subtotal(inv.line_items, inv) is False


def test_not_ubl_and_second_tax_total():
    with pytest.raises(EInvoiceError, match="not a UBL Invoice"):
        parse_ubl(parse(b"<Invoice><ID>1</ID></Invoice>"))
    # A second TaxTotal states VAT in the tax currency: the document currency's is taken.
    xml = _minimal('<cbc:DocumentCurrencyCode>USD</cbc:DocumentCurrencyCode><cac:TaxTotal>'
                   '<cbc:TaxAmount currencyID="EUR">9.00</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal>'
                   '<cbc:TaxAmount currencyID="USD">10.00</cbc:TaxAmount></cac:TaxTotal>', root="CreditNote")
    e = read(xml)
    assert e.invoice.tax_total == Decimal("10.00") and e.is_credit_note and e.document_type_code == "381"


@pytest.mark.parametrize("cid,profile", [
    ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0", "XRECHNUNG"),
    ("urn:cen.eu:en16931:2017#compliant#urn:xoev-de:kosit:standard:xrechnung_2.3", "XRECHNUNG"),
    ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0#conformant#"
     "urn:xeinkauf.de:kosit:extension:xrechnung_3.0", "XRECHNUNG"),
    ("urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0", "PEPPOL"),
    ("urn:cen.eu:en16931:2017", "EN16931"),
    ("urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0", "EN16931"),
    ("urn:www.cenbii.eu:transaction:biitrns010:ver2.0", ""),
])
def test_profile_of(cid, profile):
    assert profile_of(cid) == profile


def _charged_line(indicator: str) -> bytes:
    acs = "".join(f"<cac:AllowanceCharge>{flag}<cbc:Amount currencyID=\"EUR\">{amount}</cbc:Amount>"
                  "</cac:AllowanceCharge>" for flag, amount in (
                      ("<cbc:ChargeIndicator>false</cbc:ChargeIndicator>", "2.00"), (indicator, "0.50")))
    return _minimal('<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID="CHF">8.50</cbc:PayableAmount>'
                    '</cac:LegalMonetaryTotal><cac:InvoiceLine><cbc:ID>1</cbc:ID>'
                    '<cbc:LineExtensionAmount currencyID="CHF">8.50</cbc:LineExtensionAmount>'
                    f"{acs}</cac:InvoiceLine>")


def test_line_charge_nets_against_allowance_and_currency_falls_back():
    e = read(_charged_line("<cbc:ChargeIndicator>true</cbc:ChargeIndicator>"))
    (item,) = e.invoice.line_items
    assert item.discount == Decimal("1.50") and item.amount == Decimal("8.50")
    assert e.notes == ()
    assert e.invoice.currency == "CHF"  # no DocumentCurrencyCode: the amounts' currencyID
    for indicator, shown in (("", "''"), ("<cbc:ChargeIndicator>yes</cbc:ChargeIndicator>", "'yes'")):
        with pytest.raises(EInvoiceError, match=rf"cac:AllowanceCharge \(line 1\): ChargeIndicator {shown} is not"):
            read(_charged_line(indicator))


def test_read_einvoice_takes_a_ubl_file_and_names_the_source():
    doc = ubl_from_truth(truth(5), customization="peppol")
    found = read_einvoice(doc.xml, "in/inv.xml")
    assert found is not None and (found.syntax, found.profile, found.origin) == ("UBL", "PEPPOL", "file")
    assert found.invoice == Invoice.model_validate(doc.expected)
    with pytest.raises(EInvoiceError) as err:
        read_einvoice(doc.xml.replace(b">3</cbc:InvoicedQuantity>", b">3 pcs</cbc:InvoicedQuantity>", 1),
                      "in/bad.xml")
    assert err.value.source == "in/bad.xml" and "cbc:InvoicedQuantity (line " in err.value.message


def test_read_einvoice_finds_ubl_attached_to_a_pdf():
    doc = ubl_from_truth(truth(7), credit_note=True)
    pdf = pymupdf.open()
    pdf.new_page()
    pdf.embfile_add("invoice-ubl.xml", doc.xml)  # not a standard name: found by its root
    found = read_einvoice(pdf.tobytes(), "inv.pdf")
    assert found is not None and found.origin == "attachment:invoice-ubl.xml" and found.is_credit_note
    assert found.invoice == Invoice.model_validate(doc.expected)
