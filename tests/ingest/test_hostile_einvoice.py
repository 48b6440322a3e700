"""E-invoice XML as it arrives from strangers' software: other encodings in the prolog, a BOM that
disagrees with it, bogus encodings, deep nesting, the right root in the wrong namespace, a
missing total. Each reads exactly or fails as one readable `einvoice_invalid` line."""

from __future__ import annotations

import codecs
import re

import pytest

from raxdoc.ingest.einvoice import EInvoiceError, read_einvoice
from raxdoc.testing.einvoice_cii import write_cii
from raxdoc.testing.einvoice_ubl import ubl_from_truth
from raxdoc.testing.invoices import generate_invoice

CII_NS = b"urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"


@pytest.fixture(scope="module")
def truth() -> dict:
    t = generate_invoice(0).truth  # a French invoice: accents in both party names
    assert any(ord(c) > 127 for c in t["customer_name"])
    return t


@pytest.fixture(scope="module")
def cii(truth) -> bytes:
    return write_cii(truth, "EN16931").xml


def _declared(xml: bytes, encoding: str, codec: str) -> bytes:
    """The same document, declared and written in another encoding (characters it lacks as references)."""
    text = re.sub(r"encoding=['\"]UTF-8['\"]", f"encoding='{encoding}'", xml.decode(), count=1)
    return text.encode(codec, "xmlcharrefreplace")


@pytest.mark.parametrize(("encoding", "codec"), [("ISO-8859-1", "latin-1"), ("windows-1252", "cp1252"),
                                                  ("ISO-8859-15", "iso8859-15"), ("UTF-16", "utf-16")])
def test_other_declared_encodings_read_exactly(truth, cii, encoding, codec):
    for xml in (cii, ubl_from_truth(truth).xml):
        found = read_einvoice(_declared(xml, encoding, codec), "latin.xml")
        assert found.invoice.customer_name == truth["customer_name"]
        assert found.invoice.vendor_name == truth["vendor_name"]


def test_a_utf8_bom_wins_over_the_declaration(truth, cii):
    # The bytes are UTF-8 and say so with a BOM; the prolog (copied from a template) says Latin-1.
    xml = codecs.BOM_UTF8 + _declared(cii, "ISO-8859-1", "utf-8")
    assert read_einvoice(xml, "bom.xml").invoice.customer_name == truth["customer_name"]


@pytest.mark.parametrize(("data", "phrase"), [
    (lambda cii: _declared(cii, "x-no-such-charset", "utf-8"), "Unsupported encoding"),
    (lambda cii: _declared(cii, "UTF-8", "latin-1"), "Invalid bytes"),  # says UTF-8, written Latin-1
    (lambda cii: b"<a>" * 5000 + b"</a>" * 5000, "depth"),
    (lambda cii: b'<r a="' + b"x" * 11_000_000 + b'"/>', "limit"),
], ids=["unknown-charset", "latin1-bytes-declared-utf8", "deep-nesting", "huge-attribute"])
def test_undecodable_or_hostile_xml_is_one_readable_line(cii, data, phrase):
    with pytest.raises(EInvoiceError, match=phrase) as info:
        read_einvoice(data(cii), "bad.xml")
    assert info.value.error_type == "einvoice_invalid" and "\n" not in info.value.message


def test_known_root_in_a_wrong_namespace_is_not_an_invoice(cii):
    with pytest.raises(EInvoiceError, match=r"\{urn:example:other\}CrossIndustryInvoice is not a CII"):
        read_einvoice(cii.replace(CII_NS, b"urn:example:other"), "wrong-ns.xml")


def test_cii_without_its_totals_still_reads_with_none(truth, cii):
    summation = rb"<ram:SpecifiedTradeSettlementHeaderMonetarySummation>.*?</ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
    stripped = re.sub(summation, b"", cii, flags=re.DOTALL)
    assert stripped != cii
    found = read_einvoice(stripped, "no-total.xml")
    assert found.invoice.total is None and found.invoice.subtotal is None
    assert found.invoice.invoice_number == truth["invoice_number"] and len(found.invoice.line_items) == len(truth["line_items"])


def test_ubl_credit_note_is_read_as_one(truth):
    found = read_einvoice(ubl_from_truth(truth, credit_note=True).xml, "credit.xml")
    assert found.is_credit_note and found.syntax == "UBL" and found.invoice.invoice_number == truth["invoice_number"]
