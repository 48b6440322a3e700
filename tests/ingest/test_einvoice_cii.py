"""The CII reader returns exactly what the XML says, for every profile, ZUGFeRD 1.0, credit notes,
several VAT rates, line and document allowances/charges, EXTENDED sub-lines and price base quantities;
the written XML is valid against the official XSDs; the records pass the reconciliation checks."""

from __future__ import annotations

import copy
import datetime as dt
import functools
from decimal import Decimal

import pytest

from raxdoc.ingest.einvoice import EInvoiceError, read_einvoice
from raxdoc.ingest.einvoice.guideline import profile_of
from raxdoc.postprocess.checks import run_checks
from raxdoc.schemas.invoice import Invoice
from raxdoc.testing.einvoice_cii import GUIDELINES, PROFILES, with_bad_number, write_cii, xsd_errors
from raxdoc.testing.invoices import generate_invoice

SEEDS = (0, 1, 2, 3)  # de_DE / en_GB / en_US / fr_FR / de_CH and mixed rates, discounts, 1-3 pages among them
HEADER = ("invoice_number", "issue_date", "currency", "vendor_name", "vendor_tax_id", "customer_name",
          "purchase_order", "subtotal", "tax_total", "total")
DETAIL = ("due_date", "delivery_date", "vendor_address", "customer_address", "customer_tax_id", "customer_id",
          "payment_terms", "tax_breakdown")
ITEM = ("description", "quantity", "unit_price", "discount", "tax_rate", "amount")


@functools.cache
def _cached_truth(seed: int) -> dict:
    return generate_invoice(seed).truth


def _truth(seed: int) -> dict:
    return copy.deepcopy(_cached_truth(seed))


def _assert_matches_truth(inv: Invoice, truth: dict, profile: str) -> None:
    """The reader's values equal the truth's own (not the writer's copy), field by field."""
    want = Invoice.model_validate({k: v for k, v in truth.items() if k not in ("pages", "meta", "format")})
    fields = HEADER + (() if profile == "MINIMUM" else DETAIL)
    for name in fields:
        assert getattr(inv, name) == getattr(want, name), name
    if profile == "MINIMUM":
        assert inv.vendor_address is None and inv.due_date is None and inv.tax_breakdown == []
    if profile not in ("MINIMUM",) and truth.get("iban"):
        assert inv.iban == truth["iban"].replace(" ", "")  # the XML's compact form
    if profile in ("MINIMUM", "BASIC WL"):
        assert inv.line_items == []
        return
    assert len(inv.line_items) == len(truth["line_items"])
    for got, exp in zip(inv.line_items, want.line_items, strict=True):
        for name in ITEM:
            if name in truth["line_items"][0] or name == "discount":
                assert getattr(got, name) == getattr(exp, name), name
        if profile not in ("BASIC",):
            assert got.product_code == exp.product_code


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("seed", SEEDS)
def test_every_profile_reads_back_exactly(seed, profile):
    truth = _truth(seed)
    sample = write_cii(truth, profile)
    assert xsd_errors(sample) == []
    found = read_einvoice(sample.xml, "inv.xml")
    assert found is not None and found.origin == "file"
    assert found.invoice == Invoice.model_validate(sample.expected)
    assert found.syntax == ("ZUGFeRD1" if profile == "ZUGFeRD1" else "CII")
    assert found.profile == ("COMFORT" if profile == "ZUGFeRD1" else profile)
    assert found.guideline_id == GUIDELINES[profile]
    assert not found.is_credit_note and found.document_type_code == "380"
    _assert_matches_truth(found.invoice, truth, profile)


def _checks(inv: Invoice):
    return run_checks(inv, inv.line_items, [0] * len(inv.line_items), 1, 1, [])


def test_several_rates_and_line_discounts_reconcile():
    # seed 0: three French rates; find a seed with line discounts too
    seed = next(s for s in range(50) if len(_truth(s)["tax_breakdown"]) > 1
                and any("discount" in i for i in _truth(s)["line_items"]))
    found = read_einvoice(write_cii(_truth(seed), "EN16931").xml, "x.xml")
    assert len(found.invoice.tax_breakdown) > 1 and any(i.discount for i in found.invoice.line_items)
    checks = _checks(found.invoice)
    assert all(checks.line_amount_ok) and checks.lines_sum_subtotal and checks.subtotal_tax_total
    assert checks.tax_breakdown_ok


def test_document_allowance_and_charge_count_as_a_net_discount():
    sample = write_cii(_truth(1), "EN16931", allowance="50.00", charge="12.50")
    assert xsd_errors(sample) == []
    found = read_einvoice(sample.xml, "x.xml")
    inv = found.invoice
    assert inv.discount_total == Decimal("37.50") and inv.subtotal == Decimal(_truth(1)["subtotal"])
    assert inv.total == inv.subtotal - inv.discount_total + inv.tax_total
    assert ("document_charges" in {k for k, _ in found.notes})
    checks = _checks(inv)
    assert checks.lines_sum_subtotal and checks.subtotal_tax_total and checks.tax_breakdown_ok


def test_extended_sublines_are_items_and_their_group_line_is_not():
    truth = _truth(1)
    sample = write_cii(truth, "EXTENDED", group_lines=True, price_base=100)
    assert xsd_errors(sample) == []
    assert b"<ram:LineStatusReasonCode>GROUP<" in sample.xml and b"<ram:ParentLineID>1<" in sample.xml
    found = read_einvoice(sample.xml, "x.xml")
    assert found.invoice == Invoice.model_validate(sample.expected)
    assert [i.description for i in found.invoice.line_items] == [i["description"] for i in truth["line_items"]]
    kinds = [k for k, _ in found.notes]
    assert kinds.count("subline_group") == 1 and kinds.count("subline_information") == 1
    assert "price_base_quantity" in kinds  # prices per 100 units, divided back
    assert _checks(found.invoice).lines_sum_subtotal


def test_credit_note_keeps_amounts_and_says_what_it_is():
    sample = write_cii(_truth(2), "EN16931", credit_note=True)
    found = read_einvoice(sample.xml, "cn.xml")
    assert found.is_credit_note and found.document_type_code == "381"
    assert found.invoice.total == Decimal(_truth(2)["total"]) > 0  # as written, positive


def test_zugferd1_credit_note_and_units():
    sample = write_cii(_truth(0), "ZUGFeRD1", credit_note=True)
    assert xsd_errors(sample) == []
    found = read_einvoice(sample.xml, "z.xml")
    assert found.syntax == "ZUGFeRD1" and found.is_credit_note
    assert {i.unit for i in found.invoice.line_items} <= {"H87", "HUR", "C62"}


def test_a_number_that_does_not_parse_names_its_element():
    bad = with_bad_number(write_cii(_truth(0), "EN16931").xml, "GrandTotalAmount", "1.234,56")
    with pytest.raises(EInvoiceError, match=r"ram:GrandTotalAmount \(line \d+\): '1.234,56' is not a decimal"):
        read_einvoice(bad, "bad.xml")
    bad_line = with_bad_number(write_cii(_truth(0), "BASIC").xml, "BilledQuantity", "two")
    with pytest.raises(EInvoiceError, match="ram:BilledQuantity"):
        read_einvoice(bad_line, "bad.xml")


def test_a_date_that_does_not_parse_is_an_error():
    xml = write_cii(_truth(0), "BASIC").xml.replace(b'format="102">2', b'format="102">X', 1)
    with pytest.raises(EInvoiceError, match="is not a date"):
        read_einvoice(xml, "bad.xml")


def test_totals_that_do_not_add_up_still_read():
    sample = write_cii(_truth(0), "EN16931")
    wrong = with_bad_number(sample.xml, "GrandTotalAmount", "1.00")
    inv = read_einvoice(wrong, "x.xml").invoice
    assert inv.total == Decimal("1.00") and _checks(inv).subtotal_tax_total is False


@pytest.mark.parametrize(("urn", "profile"), [
    ("urn:factur-x.eu:1p0:minimum", "MINIMUM"),
    ("urn:factur-x.eu:1p0:basicwl", "BASIC WL"),
    ("urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic", "BASIC"),
    ("urn:cen.eu:en16931:2017", "EN16931"),
    ("urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended", "EXTENDED"),
    ("urn:cen.eu:en16931:2017#conformant#urn.cpro.gouv.fr:1p0:extended-ctc-fr", "EXTENDED-CTC-FR"),
    ("urn:cen.eu:en16931:2017#compliant#urn:zugferd.de:2p0:basic", "BASIC"),
    ("urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0", "XRECHNUNG"),
    ("urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0", "PEPPOL"),
    ("urn:ferd:CrossIndustryDocument:invoice:1p0:extended", "EXTENDED"),
    ("urn:example:unknown", ""),
])
def test_profile_from_guideline_id(urn, profile):
    assert profile_of(urn) == profile


def test_dates_are_dates():
    inv = read_einvoice(write_cii(_truth(0), "EN16931").xml, "x.xml").invoice
    assert inv.issue_date == dt.date.fromisoformat(_truth(0)["issue_date"])
