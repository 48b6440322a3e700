"""The one safe XML parse every e-invoice reader goes through: `safe_parse(data, source)`.

E-invoices arrive from strangers (mail attachments, supplier portals), so the XML is treated as
hostile. Defences, each on its own enough against the attack it names:
- size: over `MAX_XML_BYTES` is refused before the parser sees a byte (memory exhaustion);
- declarations: any `<!DOCTYPE` or `<!ENTITY` is refused outright, before and after parsing (billion
  laughs, XXE to a local file or URL, external DTDs). No e-invoice syntax (CII, ZUGFeRD 1.0, UBL)
  uses a DTD, so nothing legitimate is lost;
- the parser itself: lxml with resolve_entities=False, no_network=True, load_dtd=False and
  huge_tree=False (libxml2's depth and text-node limits stay on), in case a declaration slipped past.
Failures are `EInvoiceError` with a message a user can act on.

Not here: what the root element means (`raxdoc.ingest.einvoice.read_einvoice`), reading values.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from raxdoc.ingest.einvoice.record import EInvoiceError

# 20 MB: a 10,000-line EXTENDED invoice is about 15 MB; anything larger is not an invoice.
MAX_XML_BYTES = 20 * 1024 * 1024
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers keep state and are not shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_pis=True)


def _text_for_scan(data: bytes) -> str:
    """The document as text for the declaration scan; UTF-16/32 would hide `<!DOCTYPE` from a byte search."""
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    if data[:2] == b"<\x00":
        return data.decode("utf-16-le", errors="replace")
    if data[:2] == b"\x00<":
        return data.decode("utf-16-be", errors="replace")
    return data.decode("latin-1")  # every byte maps to one char; ASCII markup stays findable


def safe_parse(data: bytes, source: str) -> etree._Element:
    """The root element of `data`; EInvoiceError if it is too large, declares a DTD/entity, or is malformed."""
    if len(data) > MAX_XML_BYTES:
        raise EInvoiceError(source, f"XML is {len(data):,} bytes, over the {MAX_XML_BYTES:,}-byte limit; not read")
    if _DECLARATION.search(_text_for_scan(data)):
        raise EInvoiceError(source, "XML declares a DOCTYPE or ENTITY; refused (e-invoices never use a DTD, "
                                    "and entity declarations are how XXE and billion-laughs attacks work)")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:  # libxml2's text may hold a newline: one line in the error column
        raise EInvoiceError(source, f"malformed XML: {' '.join(str(exc).split())}") from None
    except ValueError as exc:  # lxml: e.g. a str with an encoding declaration, bytes it cannot decode
        raise EInvoiceError(source, f"unreadable XML: {' '.join(str(exc).split())}") from None
    if root is None:
        raise EInvoiceError(source, "XML has no root element")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise EInvoiceError(source, "XML declares a DOCTYPE; refused")
    return root


def local_name(element: etree._Element) -> str:
    """`Invoice` for `{urn:...:Invoice-2}Invoice`."""
    return etree.QName(element).localname


def namespace(element: etree._Element) -> str:
    return etree.QName(element).namespace or ""
