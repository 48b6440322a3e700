"""The e-invoice value rules the readers share: dates with a time zone, and one way to name an item."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from raxdoc.ingest.einvoice import EInvoiceError, read_einvoice
from raxdoc.ingest.einvoice.values import date_of, item_description
from raxdoc.testing.einvoice_cii import write_cii
from raxdoc.testing.invoices import generate_invoice


def _el(text: str, **attrs: str) -> etree._Element:
    el = etree.Element("IssueDate", **attrs)
    el.text = text
    return el


@pytest.mark.parametrize("text", ["2025-01-31", "2025-01-31Z", "2025-01-31+01:00", "2025-01-31-05:00"])
def test_an_iso_date_with_a_zone_is_its_day(text):
    assert date_of(_el(text), "x.xml") == dt.date(2025, 1, 31)


@pytest.mark.parametrize("text", ["2025-01-31T10:00:00", "2025-01-31+1", "2025-01-31 Z", "2025-02-30Z"])
def test_other_date_forms_are_still_errors(text):
    with pytest.raises(EInvoiceError, match="is not a date"):
        date_of(_el(text), "x.xml")


def test_format_102_takes_no_zone():
    assert date_of(_el("20250131", format="102"), "x.xml") == dt.date(2025, 1, 31)
    with pytest.raises(EInvoiceError):
        date_of(_el("2025-01-31Z", format="102"), "x.xml")


@pytest.mark.parametrize(("name", "description", "expected"), [
    ("Widget", None, "Widget"),
    (None, "Blue widget", "Blue widget"),
    ("Widget", "Blue, 10 mm", "Widget Blue, 10 mm"),
    ("Widget", "Widget", "Widget"),  # repeats the name: adds nothing
    ("Blue widget 10 mm", "widget", "Blue widget 10 mm"),  # part of the name
    ("Widget", "Widget, blue, 10 mm", "Widget, blue, 10 mm"),  # says the name and more: it replaces it
    (None, None, None),
])
def test_item_description_rule(name, description, expected):
    assert item_description(name, description) == expected


def test_cii_and_ubl_describe_an_item_alike():
    """A CII product with a Name and a Description reads as UBL's Item Name + Description does."""
    sample = write_cii(generate_invoice(0).truth, "EN16931")
    name = sample.expected["line_items"][0]["description"]
    xml = sample.xml.replace(f"<ram:Name>{name}</ram:Name>".encode(),
                             f"<ram:Name>{name}</ram:Name><ram:Description>Blue, 10 mm</ram:Description>".encode(), 1)
    assert xml != sample.xml
    cii = read_einvoice(xml, "x.xml").invoice.line_items[0].description
    ubl_root = ("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
                "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
                "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2")
    ubl = (f'<Invoice xmlns="{ubl_root[0]}" xmlns:cac="{ubl_root[1]}" xmlns:cbc="{ubl_root[2]}">'
           "<cbc:ID>1</cbc:ID><cbc:IssueDate>2025-01-31Z</cbc:IssueDate>"
           f"<cac:InvoiceLine><cbc:ID>1</cbc:ID><cac:Item><cbc:Description>Blue, 10 mm</cbc:Description>"
           f"<cbc:Name>{name}</cbc:Name></cac:Item></cac:InvoiceLine></Invoice>").encode()
    found = read_einvoice(ubl, "u.xml").invoice
    assert cii == found.line_items[0].description == f"{name} Blue, 10 mm"
    assert found.issue_date == dt.date(2025, 1, 31)  # UBL's zoned date reads
