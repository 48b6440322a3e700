"""Typed errors that become rows: every failure a user can cause has a class here.

Each error carries the `source` it concerns and a stable `error_type` string, which is
what the `documents` table stores in its `error_type` column (so never rename one).
`PageError` adds the `page_index`, so a document can be `partial` rather than lost.

All errors pickle with their fields (Ray ships them between processes), and this module
imports nothing beyond the standard library, so every layer may use it.

Not here: retry policy, or deciding a document's status; that lives with the pipeline.
"""

from __future__ import annotations

OCR_INSTALL_HINT = "needs the rapidocr package: pip install 'raxdoc[ocr]'"


class RaxdocError(Exception):
    """Base of every raxdoc error; `error_type` is the stable name stored with the row."""

    error_type: str = "error"

    def __init__(self, source: str, message: str) -> None:
        super().__init__(source, message)
        self.source = str(source)
        self.message = message

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"

    def to_record(self) -> dict[str, object]:
        """The columns an error row stores: source, error_type, error (and page_index)."""
        return {"source": self.source, "error_type": self.error_type, "error": self.message}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, {self.message!r})"


class SourceNotFound(RaxdocError):
    """A path, URL or glob that names nothing."""

    error_type = "source_not_found"


class SourceUnreadable(RaxdocError):
    """The source exists (or its protocol is unknown) but its bytes cannot be read."""

    error_type = "source_unreadable"


class UnsupportedFormat(RaxdocError):
    """The bytes are not a PDF, PNG, JPEG or TIFF (sniffed, whatever the extension says)."""

    error_type = "unsupported_format"


class EmptyDocument(RaxdocError):
    """A 0-byte file, or a document with no pages."""

    error_type = "empty_document"


class CorruptDocument(RaxdocError):
    """The file claims a format but cannot be parsed, even with repair."""

    error_type = "corrupt_document"


class EncryptedDocument(RaxdocError):
    """The document needs a password we were not given (or the one given is wrong)."""

    error_type = "encrypted_document"


class PageError(RaxdocError):
    """One page failed; the rest of its document may still be fine."""

    error_type = "page_error"

    def __init__(self, source: str, message: str, page_index: int) -> None:
        RaxdocError.__init__(self, source, message)
        # Exception pickling replays self.args into __init__: keep all three there.
        self.args = (source, message, page_index)
        self.page_index = page_index

    def __str__(self) -> str:
        return f"{self.source} page {self.page_index}: {self.message}"

    def to_record(self) -> dict[str, object]:
        return {**super().to_record(), "page_index": self.page_index}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source!r}, {self.message!r}, page_index={self.page_index})"


class PageTooLarge(PageError):
    """An image over PIL's decompression-bomb limit (in an image file or embedded in a PDF page)."""

    error_type = "page_too_large"


class EInvoiceError(RaxdocError):
    """An e-invoice XML that cannot be read: malformed, hostile (entities, DTD, too large), or not an
    invoice of a known syntax while claiming to be one (a standard attachment name, a known root).
    Re-exported by `raxdoc.ingest.einvoice`."""

    error_type = "einvoice_invalid"


class OcrUnavailable(RaxdocError):
    """OCR was asked for (`--ocr`) but RapidOCR or its packaged models are not installed: a usage
    error, raised before any page is read (`raxdoc.ingest.ocr.check_available`). Its source is the
    option, so the CLI's line reads "--ocr: needs the rapidocr package: pip install ...". """

    error_type = "ocr_unavailable"

    def __init__(self, source: str = "--ocr", message: str = OCR_INSTALL_HINT) -> None:
        super().__init__(source, message)


ERROR_TYPES: dict[str, type[RaxdocError]] = {
    cls.error_type: cls
    for cls in (
        RaxdocError,
        SourceNotFound,
        SourceUnreadable,
        UnsupportedFormat,
        EmptyDocument,
        CorruptDocument,
        EncryptedDocument,
        PageTooLarge,
        PageError,
        EInvoiceError,
        OcrUnavailable,
    )
}
