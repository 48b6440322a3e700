"""Hostile and broken XML is refused with EInvoiceError before anything is expanded or fetched;
XML inputs are sniffed by content (and not rendered as pages)."""

from __future__ import annotations

import pytest

from raxdoc.errors import ERROR_TYPES, UnsupportedFormat
from raxdoc.ingest import read_document
from raxdoc.ingest.einvoice import EInvoiceError, read_einvoice
from raxdoc.ingest.einvoice import xml as safe_xml
from raxdoc.ingest.sniff import sniff_format

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""


def _xxe(target: str) -> bytes:
    return f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{target}">]><r>&x;</r>'.encode()


@pytest.mark.parametrize("data", [
    BILLION_LAUGHS,
    _xxe("file:///etc/passwd"),
    _xxe("http://127.0.0.1:9/evil.dtd"),
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd"><r/>',  # external DTD
    b'<!doctype r><r/>',
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'.encode("utf-16"),
], ids=["billion-laughs", "xxe-file", "xxe-url", "external-dtd", "lowercase-doctype", "utf16-entity"])
def test_declarations_are_refused(data):
    with pytest.raises(EInvoiceError, match="DOCTYPE or ENTITY") as info:
        safe_xml.safe_parse(data, "evil.xml")
    assert info.value.source == "evil.xml" and info.value.error_type == "einvoice_invalid"


def test_the_parser_itself_neither_expands_nor_fetches(tmp_path):
    """Belt and braces: were the declaration scan bypassed, the parser still resolves nothing."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    from lxml import etree

    root = etree.fromstring(_xxe(secret.as_uri()), safe_xml._parser())
    assert "TOP-SECRET" not in etree.tostring(root).decode()
    laughs = etree.fromstring(BILLION_LAUGHS, safe_xml._parser())
    assert len(etree.tostring(laughs)) < 1000


def test_oversize_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(safe_xml, "MAX_XML_BYTES", 1000)
    with pytest.raises(EInvoiceError, match="over the 1,000-byte limit"):
        safe_xml.safe_parse(b"<r>" + b"x" * 1000 + b"</r>", "big.xml")
    assert safe_xml.safe_parse(b"<r>" + b"x" * 900 + b"</r>", "ok.xml").tag == "r"


@pytest.mark.parametrize("data", [b"<Invoice><ID>1</ID>", b"<a></b>", b"<a>&undefined;</a>"])
def test_malformed_xml_is_an_error(data):
    with pytest.raises(EInvoiceError, match="malformed XML"):
        safe_xml.safe_parse(data, "bad.xml")


def test_xml_that_is_not_an_invoice_is_an_error():
    with pytest.raises(EInvoiceError, match="not an e-invoice: root element {urn:x}order"):
        read_einvoice(b'<?xml version="1.0"?><order xmlns="urn:x"><id>1</id></order>', "order.xml")


def test_error_type_is_registered():
    assert ERROR_TYPES["einvoice_invalid"] is EInvoiceError


@pytest.mark.parametrize(("head", "fmt"), [
    (b'<?xml version="1.0" encoding="UTF-8"?>\n<rsm:CrossIndustryInvoice xmlns:rsm="urn:x">', "xml"),
    (b"\xef\xbb\xbf<?xml version='1.0'?>", "xml"),
    (b"  <!-- generated --><Invoice xmlns='urn:oasis'>", "xml"),
    ('<?xml version="1.0"?><Invoice/>'.encode("utf-16"), "xml"),
    (b"<!DOCTYPE lolz [<!ENTITY a 'b'>]><lolz/>", "xml"),  # sniffed as XML, then refused by the parser
    (b"<!DOCTYPE html><html><body>404</body></html>", None),
    (b"<html><head></head></html>", None),
    (b"Hello, plain text", None),
    (b"%PDF-1.7\n<?xml", "pdf"),
])
def test_xml_is_sniffed_by_content(head, fmt):
    assert sniff_format(head) == fmt


def test_read_document_names_an_xml_input_instead_of_rendering_it():
    with pytest.raises(UnsupportedFormat, match="an XML file"):
        read_document(b'<?xml version="1.0"?><Invoice/>')
