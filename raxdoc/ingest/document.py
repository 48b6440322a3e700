"""A document: one source's bytes, hashed, sniffed and opened, with pages rendered on demand.

`read_document` reads the whole file (its `content_id`, the SHA-256 of the bytes, is the `doc_id`,
and the parser gets the exact bytes that were hashed; a caller that hashed them already passes
`doc_id` and they are not hashed again), sniffs the format from magic bytes, and opens it; anything
wrong with the document as a whole raises a typed `RaxdocError` there. Pages are rendered
lazily, one at a time, by `Document.page(i)` (raises `PageError`) or `Document.pages()`
(yields each page, or the `PageError` for a page that failed, and goes on).

Not here: expanding inputs into sources (`sources.py`), the renderers (`pdf.py`, `image.py`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from raxdoc.errors import EmptyDocument, PageError, UnsupportedFormat
from raxdoc.ingest.image import ImageBackend
from raxdoc.ingest.options import DEFAULT_DPI, DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS, RenderOptions
from raxdoc.ingest.page import PageImage
from raxdoc.ingest.pdf import PdfBackend
from raxdoc.ingest.sniff import SNIFF_BYTES, describe_unknown, sniff_format
from raxdoc.ingest.sources import SourceRef, read_source_bytes, to_source_ref

if TYPE_CHECKING:
    import pymupdf


class _Backend(Protocol):
    page_count: int
    info: dict[str, str]
    encrypted: bool
    repaired: bool
    open_warnings: tuple[str, ...]

    def render(self, index: int) -> PageImage: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DocumentMetadata:
    format: str  # sniffed: "pdf", "png", "jpeg", "tiff", "gif", "webp" or "bmp"
    pdf_version: str  # e.g. "PDF 1.7"; "" for images
    title: str
    producer: str
    creator: str
    encrypted: bool  # encrypted on disk (readable: an empty or given password worked)
    repaired: bool  # MuPDF had to rebuild a broken file (xref, trailer) to open it
    warnings: tuple[str, ...] = ()  # what the parser said while opening


@dataclass(frozen=True, eq=False)
class Document:
    doc_id: str  # SHA-256 hex of the file's bytes
    source: str
    page_count: int  # pages in the file, whatever max_pages says
    metadata: DocumentMetadata
    options: RenderOptions
    _backend: _Backend = field(repr=False)

    @property
    def render_count(self) -> int:
        """Pages that pages() yields: page_count, or max_pages if smaller."""
        limit = self.options.max_pages
        return self.page_count if limit is None else min(self.page_count, limit)

    @property
    def pdf(self) -> pymupdf.Document | None:
        """The open (authenticated) PyMuPDF document of a PDF, None for an image: for what else the
        file carries, e.g. `read_einvoice(b"", source, pdf=doc.pdf)`, without opening it twice."""
        return getattr(self._backend, "pdf", None)

    def page(self, index: int) -> PageImage:
        """Render one page; raises PageError (with page_index) if it fails."""
        if not 0 <= index < self.page_count:
            raise IndexError(f"page {index} out of range for {self.page_count} pages")
        return self._backend.render(index)

    def pages(self) -> Iterator[PageImage | PageError]:
        """Each page in order, rendered when asked for; a failed page is yielded as its PageError."""
        for index in range(self.render_count):
            try:
                yield self._backend.render(index)
            except PageError as e:
                yield e

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> object:
        raise TypeError("Document holds an open parser; ship its SourceRef or its PageImages instead")


def content_id(data: bytes) -> str:
    """A document's id: the SHA-256 hex digest of its bytes (the one place ids are computed)."""
    return hashlib.sha256(data).hexdigest()


def read_document(
    source: SourceRef | str | os.PathLike | bytes,
    *,
    doc_id: str | None = None,
    dpi: float = DEFAULT_DPI,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_pages: int | None = None,
    password: str | None = None,
    options: RenderOptions | None = None,
) -> Document:
    """Open one document; typed RaxdocError if it cannot be read as a whole.

    `options` replaces the keyword settings when given (a pipeline builds it once). `doc_id`, when
    given, must be `content_id` of these bytes (the caller hashed them already); it is not checked.
    """
    if options is None:
        options = RenderOptions(dpi=dpi, min_pixels=min_pixels, max_pixels=max_pixels, max_pages=max_pages, password=password)
    if isinstance(source, (bytes, bytearray, memoryview)):
        name, data = "<bytes>", bytes(source)
    else:
        ref = to_source_ref(source)
        name, data = ref.url, read_source_bytes(ref)
    if not data:
        raise EmptyDocument(name, "file is empty (0 bytes)")
    if doc_id is None:
        doc_id = content_id(data)
    head = data[:SNIFF_BYTES]
    fmt = sniff_format(head)
    if fmt is None:
        raise UnsupportedFormat(name, describe_unknown(head))
    if fmt == "xml":  # no pages to render: an e-invoice XML is read by raxdoc.ingest.einvoice.read_einvoice
        raise UnsupportedFormat(name, "an XML file (no pages; e-invoice XML is read by read_einvoice)")
    backend: _Backend = PdfBackend(data, name, options) if fmt == "pdf" else ImageBackend(data, name, fmt, options)
    metadata = DocumentMetadata(
        **backend.info, encrypted=backend.encrypted, repaired=backend.repaired, warnings=backend.open_warnings
    )
    return Document(doc_id, name, backend.page_count, metadata, options, backend)
