"""Ingest: sources (paths, directories, globs, fsspec URLs) -> documents -> page images.

    from raxdoc.ingest import iter_sources, read_document
    for ref in iter_sources(["invoices/", "s3://bucket/2024/*.pdf"]):
        with read_document(ref) as doc:        # RaxdocError: a typed error row
            for page in doc.pages():           # PageImage, or the PageError of a failed page
                ...

PDFs render with PyMuPDF at native resolution (scans at their image's effective DPI,
born-digital pages at a configured DPI, all clamped to a pixel budget); PNG, JPEG and TIFF
files are documents too, one page per frame. Formats are sniffed from magic bytes.
E-invoices (`read_einvoice`): the exact record a PDF's attached CII/UBL XML, or an XML file, holds.

Threads: PyMuPDF is not thread-safe, and MuPDF's warning list is process-wide. Rendering
runs in processes (Ray tasks, one document at a time per process), never in threads of one
actor; never share a Document between threads. A Document holds an open parser and does
not pickle: ship SourceRefs to workers and PageImages back.

Not here: anything model-specific (the processor resizes again to the model's limits) and
no torch.
"""

from raxdoc.ingest.document import Document, DocumentMetadata, read_document
from raxdoc.ingest.einvoice import EInvoice, EInvoiceError, read_einvoice
from raxdoc.ingest.options import RenderOptions
from raxdoc.ingest.page import PageImage, PageKind, Word
from raxdoc.ingest.sources import SourceRef, iter_sources

__all__ = [
    "Document",
    "DocumentMetadata",
    "EInvoice",
    "EInvoiceError",
    "PageImage",
    "PageKind",
    "RenderOptions",
    "SourceRef",
    "Word",
    "iter_sources",
    "read_document",
    "read_einvoice",
]
