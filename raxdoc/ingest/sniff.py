"""Format sniffing from magic bytes: what a file is, whatever its name says.

Scanners and mail gateways name files badly ("invoice.pdf" that is a JPEG, "scan" with no
extension), so the extension is never consulted. Only the formats ingest can read are
accepted; a few common others are named so the error tells the user what they sent.
XML files are "xml" (by content: a declaration or a root element, after an optional BOM,
comments and processing instructions; UTF-16 too): they may be e-invoices (XRechnung, Peppol),
which `raxdoc.ingest.einvoice` reads; HTML is not XML here.
"""

from __future__ import annotations

import re
from typing import Literal

Format = Literal["pdf", "png", "jpeg", "tiff", "gif", "webp", "bmp", "xml"]

# Bytes needed to sniff: the PDF header may follow up to 1 KiB of junk (readers accept it).
SNIFF_BYTES = 1024

_IMAGE_MAGIC: tuple[tuple[bytes, Format], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
# Leading whitespace, comments and processing instructions, then a root element or a DOCTYPE.
_XML_START = re.compile(r"\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*<(!DOCTYPE\s+|[A-Za-z_])([\w.:-]*)", re.DOTALL)

# Formats we do not read, named only to make the error message useful.
_KNOWN_OTHERS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (docx/xlsx/odt?)"),
    (b"\xd0\xcf\x11\xe0", "an OLE file (doc/xls/msg?)"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip archive"),
)


def sniff_format(head: bytes) -> Format | None:
    """The readable format of bytes starting with `head`, or None."""
    for magic, fmt in _IMAGE_MAGIC:
        if head.startswith(magic):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if _is_bmp(head):
        return "bmp"
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return "pdf"
    if _is_xml(head):
        return "xml"
    return None


def _is_bmp(head: bytes) -> bool:
    """"BM", then a header size Windows or OS/2 bitmaps use: two letters alone are too weak a sign."""
    return head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124)


def _is_xml(head: bytes) -> bool:
    """A document whose content starts like XML and is not HTML."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        enc = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-16-le" if head[0] == 0x3C else "utf-16-be")
        text = head[: len(head) // 2 * 2].decode(enc, errors="ignore")
    else:
        text = head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")
    m = _XML_START.match(text)
    if m is None:  # a declaration whose root lies past the sniffed head is XML too
        return re.match(r"\s*<\?xml\s", text) is not None
    name = (m.group(2) if m.group(1).startswith("!") else m.group(1) + m.group(2)).lower()
    return name != "html" and not (m.group(1).startswith("!") and not name)


def describe_unknown(head: bytes) -> str:
    """A short phrase for the error message of an unsupported file."""
    for magic, what in _KNOWN_OTHERS:
        if head.startswith(magic):
            return what
    if head[4:8] == b"ftyp":  # ISO media: iPhone photos of receipts arrive as HEIC
        return "an HEIC/HEIF image or MP4 video"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "an XML/HTML file"
    return "not a PDF, image (PNG, JPEG, TIFF, GIF, WebP, BMP) or XML e-invoice"
