"""The files a PDF carries, standard e-invoice names first: `pdf_attachments(doc)`.

Factur-X / ZUGFeRD 2.x embed `factur-x.xml` (`zugferd-invoice.xml` in 2.0, `xrechnung.xml` for
XRechnung), ZUGFeRD 1.0 `ZUGFeRD-invoice.xml`, all as PDF/A-3 embedded files listed in the
document's EmbeddedFiles name tree and its /AF (associated files) array. PyMuPDF's embedded-file API
reads the name tree; /AF entries it does not list (a writer may fill only /AF) are read from their
file specifications. Names compare case-insensitively.

Size: an attachment whose declared size (or stored length) is over the XML limit is listed with a
`problem` and no bytes, so nothing huge is decompressed for an attachment that is skipped or
refused anyway; so is one whose stream MuPDF cannot decode.

Not here: deciding which attachment is an invoice (`read_einvoice`), parsing (`xml.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymupdf

from raxdoc.ingest.einvoice.xml import MAX_XML_BYTES

# The standard names, in the order they are tried; compared casefolded.
STANDARD_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")
_XREF = re.compile(r"(\d+) 0 R")
# What MuPDF raises for bad content (FileDataError is a RuntimeError; newer bindings add FzErrorBase).
MUPDF_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError, MemoryError) + (
    (pymupdf.mupdf.FzErrorBase,) if hasattr(pymupdf.mupdf, "FzErrorBase") else ())


def _read(name: str, size: int, get) -> Attachment:  # type: ignore[no-untyped-def]
    if size > MAX_XML_BYTES:
        return Attachment(name, b"", f"larger than the {MAX_XML_BYTES:,}-byte XML limit; not read")
    try:
        return Attachment(name, get() or b"")
    except MUPDF_ERRORS as exc:
        return Attachment(name, b"", f"cannot be extracted: {exc}")


@dataclass(frozen=True)
class Attachment:
    name: str  # the file name the PDF gives it
    data: bytes  # decoded content; empty when there is a `problem`
    problem: str | None = None  # why the bytes were not read: oversize, or a stream MuPDF cannot decode

    @property
    def standard(self) -> bool:
        return self.name.casefold() in STANDARD_NAMES


def _embedded(doc: pymupdf.Document) -> list[Attachment]:
    out = []
    for key in doc.embfile_names():
        info = doc.embfile_info(key)
        name = info.get("ufilename") or info.get("filename") or key
        size = max(info.get("size") or 0, info.get("length") or 0)
        out.append(_read(name, size, lambda key=key: doc.embfile_get(key)))
    return out


def _string(doc: pymupdf.Document, xref: int, key: str) -> str | None:
    kind, value = doc.xref_get_key(xref, key)
    return value if kind == "string" and value else None


def _associated(doc: pymupdf.Document, seen: set[str]) -> list[Attachment]:
    """Files in the catalog's /AF array that the name tree does not list."""
    kind, value = doc.xref_get_key(doc.pdf_catalog(), "AF")
    if kind == "xref":  # an indirect array
        value = doc.xref_object(int(value.split()[0]), compressed=True)
    elif kind != "array":
        return []
    out = []
    for spec in (int(x) for x in _XREF.findall(value)):
        name = _string(doc, spec, "UF") or _string(doc, spec, "F")
        kind, stream = doc.xref_get_key(spec, "EF/F")
        if not name or name.casefold() in seen or kind != "xref":
            continue
        xref = int(stream.split()[0])
        sizes = [doc.xref_get_key(xref, k) for k in ("Params/Size", "Length")]
        size = max((int(v) for k, v in sizes if k == "int"), default=0)
        out.append(_read(name, size, lambda xref=xref: doc.xref_stream(xref)))
    return out


def pdf_attachments(doc: pymupdf.Document) -> list[Attachment]:
    """Every embedded file of `doc`: standard e-invoice names first (in `STANDARD_NAMES` order), then
    the rest in the PDF's order. Empty for a PDF without attachments."""
    found = _embedded(doc)
    found += _associated(doc, {a.name.casefold() for a in found})
    rank = {name: i for i, name in enumerate(STANDARD_NAMES)}
    return sorted(found, key=lambda a: rank.get(a.name.casefold(), len(rank)))
