"""E-invoices: the exact record an invoice's own XML gives, `read_einvoice(data, source, pdf=None)`.

    from raxdoc.ingest.einvoice import read_einvoice, EInvoice, EInvoiceError
    found = read_einvoice(data, "inv.pdf")   # EInvoice, or None when the document carries no e-invoice

An XML input (sniffed by content) is read directly and must be an e-invoice. A PDF's attachments
are searched: the standard names (factur-x.xml, zugferd-invoice.xml / ZUGFeRD-invoice.xml,
xrechnung.xml) first, then any attachment whose root is a CII `CrossIndustryInvoice`, a ZUGFeRD 1.0
`CrossIndustryDocument` or a UBL `Invoice` / `CreditNote`. The root element's namespace picks the
reader. Errors (`EInvoiceError`): a standard-named attachment or an XML input that is malformed,
hostile, oversize or not an invoice, and any invoice XML whose values do not parse. Other
attachments that are not invoices (a logo, a delivery note, broken XML) are ignored: they make no
claim to be the invoice. A PDF that does not open gives None here; `read_document` reports it.

Not here: rendering pages, the pipeline's use of the record (auto / verify / off).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pymupdf
from lxml import etree

from raxdoc.ingest.einvoice.attachments import MUPDF_ERRORS, Attachment, pdf_attachments
from raxdoc.ingest.einvoice.record import EInvoice, EInvoiceError
from raxdoc.ingest.einvoice.xml import local_name, namespace, safe_parse
from raxdoc.ingest.sniff import SNIFF_BYTES, sniff_format

UBL_INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
# (namespace, root local name) -> reader name; `_reader` resolves the name (UBL lazily).
ROOTS: dict[tuple[str, str], str] = {
    ("urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100", "CrossIndustryInvoice"): "cii",
    ("urn:ferd:CrossIndustryDocument:invoice:1p0", "CrossIndustryDocument"): "zugferd1",
    (UBL_INVOICE_NS, "Invoice"): "ubl",
    (UBL_CREDIT_NOTE_NS, "CreditNote"): "ubl",
}

__all__ = ["EInvoice", "EInvoiceError", "einvoice_kind", "read_einvoice", "read_xml"]


def einvoice_kind(root: etree._Element) -> str | None:
    """"cii", "zugferd1" or "ubl" for an e-invoice root element, else None."""
    return ROOTS.get((namespace(root), local_name(root)))


def _reader(kind: str, source: str) -> Callable[[etree._Element], EInvoice]:
    if kind == "cii":
        from raxdoc.ingest.einvoice.cii import parse_cii
        return parse_cii
    if kind == "zugferd1":
        from raxdoc.ingest.einvoice.cii import parse_zugferd1
        return parse_zugferd1
    try:
        from raxdoc.ingest.einvoice.ubl import parse_ubl
    except ImportError:  # the UBL reader lands separately; until then UBL is named, not read
        raise EInvoiceError(source, "UBL e-invoices are not supported yet") from None
    return parse_ubl


def read_xml(root: etree._Element, source: str, origin: str = "file") -> EInvoice:
    """The e-invoice in a parsed root element; EInvoiceError if it is not one or does not read."""
    kind = einvoice_kind(root)
    where = "" if origin == "file" else f"{origin}: "
    if kind is None:
        raise EInvoiceError(source, f"{where}XML is not an e-invoice: root element {root.tag} is not a CII "
                                    "CrossIndustryInvoice, a ZUGFeRD 1.0 CrossIndustryDocument or a UBL Invoice/CreditNote")
    try:
        found = _reader(kind, source)(root)
    except EInvoiceError as exc:  # readers name the element; the source is ours to name
        raise EInvoiceError(source, f"{where}{exc.message}") from None
    return dataclasses.replace(found, origin=origin)


def _from_attachment(att: Attachment, source: str) -> EInvoice | None:
    origin = f"attachment:{att.name}"
    if att.standard:  # the name claims an e-invoice: any failure is an error
        if att.problem:
            raise EInvoiceError(source, f"{origin}: {att.problem}")
        try:
            root = safe_parse(att.data, source)
        except EInvoiceError as exc:
            raise EInvoiceError(source, f"{origin}: {exc.message}") from None
        return read_xml(root, source, origin)
    if att.problem or sniff_format(att.data[:SNIFF_BYTES]) != "xml":
        return None
    try:
        root = safe_parse(att.data, source)
    except EInvoiceError:
        return None  # some other broken attachment: not a claim to be the invoice
    return read_xml(root, source, origin) if einvoice_kind(root) else None


def _from_pdf(doc: pymupdf.Document, source: str) -> EInvoice | None:
    for att in pdf_attachments(doc):
        found = _from_attachment(att, source)
        if found is not None:
            return found
    return None


def read_einvoice(data: bytes, source: str, *, pdf: pymupdf.Document | None = None) -> EInvoice | None:
    """The e-invoice `data` is or carries; None when it carries none (a plain PDF, an image).

    `pdf`: the same document already opened (and authenticated) by ingest, so it is not opened twice.
    """
    if pdf is not None:
        return _from_pdf(pdf, source)
    fmt = sniff_format(data[:SNIFF_BYTES])
    if fmt == "xml":
        return read_xml(safe_parse(data, source), source)
    if fmt != "pdf":
        return None
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except MUPDF_ERRORS:  # a PDF that does not open is read_document's error to report
        return None
    with doc:
        if doc.needs_pass:
            return None
        return _from_pdf(doc, source)
