"""PDF pages -> RGB pixels at native resolution, with PyMuPDF.

A page is classified from its own content: "scanned" (a large image, no visible text; an
invisible OCR layer is allowed), "mixed" (a large image and visible text) or "digital".
Scans render at the effective DPI of their largest image (pixel width over placed width,
from the placement matrix, never the file's xres/yres tags); digital pages at the
configured DPI; mixed pages at the higher of the two. The size is clamped to the pixel
budget *before* rendering, so a 200 x 200 inch page never allocates its full-DPI pixmap.

MuPDF keeps warnings in a process-wide list; we read and reset it around each open and
render, so the numbers it reports are this document's only while one thread uses PyMuPDF
(see the package docstring: processes, not threads).

A page tree whose /Count entries lie is recounted from its kids when the file opens
(`pagetree.py`): the document is then flagged `repaired`, with a warning saying so.

With `RenderOptions.ocr`, a scanned page without a text layer of its own gets OCR words
(`ocr.text_layer` decides, `ocr.py` reads). Not here: image files (`image.py`), sources and
hashing (`document.py`).
"""

from __future__ import annotations

import numpy as np
import pymupdf
from PIL import Image

from raxdoc.errors import CorruptDocument, EmptyDocument, EncryptedDocument, PageError, PageTooLarge
from raxdoc.ingest.geometry import effective_dpi, page_pixels
from raxdoc.ingest.ocr import text_layer
from raxdoc.ingest.options import RenderOptions
from raxdoc.ingest.page import PageImage, PageKind, Word
from raxdoc.ingest.pagetree import recount_pages

# An image covering at least this share of the page makes it a scan (or mixed, with text).
LARGE_IMAGE_COVERAGE = 0.25
# get_texttrace span type for render mode 3 (invisible, as OCR layers are written).
_INVISIBLE_TEXT = 3
# Errors MuPDF raises for bad content: FileDataError is a RuntimeError; newer bindings
# also raise FzErrorBase subclasses that are not.
_MUPDF_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, ValueError, MemoryError) + (
    (pymupdf.mupdf.FzErrorBase,) if hasattr(pymupdf.mupdf, "FzErrorBase") else ()
)


def _take_warnings() -> tuple[str, ...]:
    text = pymupdf.TOOLS.mupdf_warnings(reset=True)
    # Rendering and text extraction parse the same content: keep each message once.
    return tuple(dict.fromkeys(line for line in text.splitlines() if line.strip()))


class PdfBackend:
    """One open PDF; renders pages on demand, one at a time."""

    def __init__(self, data: bytes, source: str, options: RenderOptions) -> None:
        self.source = source
        self.options = options
        _take_warnings()  # drop whatever an earlier document left behind
        try:
            self._doc = pymupdf.open(stream=data, filetype="pdf")
        except _MUPDF_ERRORS as e:
            raise CorruptDocument(source, f"cannot open PDF: {e}") from e
        try:
            meta = self._open(source, options)
        except _MUPDF_ERRORS as e:  # a file that opened but whose catalog or page tree is unusable
            self._doc.close()
            raise CorruptDocument(source, f"cannot read PDF: {type(e).__name__}: {e}") from e
        except BaseException:
            self._doc.close()
            raise
        if self.page_count == 0:
            self._doc.close()
            raise EmptyDocument(source, "PDF has no pages")
        self.info = {
            "format": "pdf",
            "pdf_version": meta.get("format") or "",
            "title": meta.get("title") or "",
            "producer": meta.get("producer") or "",
            "creator": meta.get("creator") or "",
        }

    def _open(self, source: str, options: RenderOptions) -> dict:
        """Authenticate, recount the page tree, count pages; the metadata dict. Sets the flags."""
        self.open_warnings = _take_warnings()
        meta = self._doc.metadata or {}
        self.encrypted = bool(self._doc.needs_pass or meta.get("encryption"))
        if self._doc.needs_pass:
            if options.password is None or not self._doc.authenticate(options.password):
                given = "no password given" if options.password is None else "wrong password"
                raise EncryptedDocument(source, f"PDF needs a password ({given})")
            meta = self._doc.metadata or {}
        recounted = recount_pages(self._doc)
        self.repaired = bool(self._doc.is_repaired) or recounted is not None
        self.open_warnings += (recounted,) if recounted else ()
        self.page_count = self._doc.page_count
        return meta

    @property
    def pdf(self) -> pymupdf.Document:
        """The open document, for what it carries besides pages (e-invoice attachments)."""
        return self._doc

    def render(self, index: int) -> PageImage:
        try:
            return self._render(index)
        except PageError:
            raise
        except _MUPDF_ERRORS as e:
            raise PageError(self.source, f"{type(e).__name__}: {e}", index) from e

    def close(self) -> None:
        self._doc.close()

    def _render(self, index: int) -> PageImage:
        _take_warnings()
        page = self._doc.load_page(index)
        kind, image_dpi = self._classify(page, index)
        dpi = {"scanned": image_dpi, "mixed": max(image_dpi, self.options.dpi), "digital": self.options.dpi}[kind]
        width_pt, height_pt = page.rect.width, page.rect.height  # displayed, rotation applied
        if not (width_pt > 0 and height_pt > 0):
            raise PageError(self.source, f"degenerate page size {width_pt} x {height_pt} pt", index)
        w, h, rendered_dpi = page_pixels(width_pt, height_pt, dpi, self.options.min_pixels, self.options.max_pixels)
        # Separate x/y zoom hits the integer size exactly; the anisotropy is < 1 px.
        matrix = pymupdf.Matrix(w / width_pt, h / height_pt)
        pix = page.get_pixmap(matrix=matrix, colorspace=pymupdf.csRGB, alpha=False)
        pixels = _pixmap_to_array(pix, h, w)
        del pix
        # Text comes unrotated: rotation_matrix turns it as displayed, then scale to pixels.
        words = _words_to_pixels(page.get_text("words"), page.rotation_matrix * matrix)
        # A scan without a text layer: OCR'd when asked (options.ocr); never a digital page.
        words, text_source = text_layer(pixels, words, kind, ocr=self.options.ocr, source=self.source,
                                        page_index=index)
        return PageImage(
            page_index=index,
            pixels=pixels,
            dpi=rendered_dpi,
            kind=kind,
            width_pt=width_pt,
            height_pt=height_pt,
            rotation=page.rotation,
            words=words,
            warnings=_take_warnings(),
            text_source=text_source,
        )

    def _classify(self, page: pymupdf.Page, index: int) -> tuple[PageKind, float]:
        """The page's kind and the effective DPI of its largest image (0 when none)."""
        crop = page.cropbox
        page_rect = pymupdf.Rect(0, 0, crop.width, crop.height)  # unrotated, as image bboxes are
        page_area = max(page_rect.get_area(), 1e-9)
        best_cover, best_dpi = 0.0, 0.0
        limit = Image.MAX_IMAGE_PIXELS  # PIL's decompression-bomb limit, applied here too
        for info in _placed_images(page):
            if limit is not None and info["width"] * info["height"] > limit:
                raise PageTooLarge(
                    self.source, f"embedded image {info['width']} x {info['height']} px exceeds {limit} pixels", index
                )
            cover = (pymupdf.Rect(info["bbox"]) & page_rect).get_area() / page_area
            if cover > best_cover:
                best_cover = cover
                best_dpi = max(effective_dpi(info["width"], info["height"], info["transform"]))
        if best_cover < LARGE_IMAGE_COVERAGE or best_dpi <= 0:
            return "digital", 0.0
        visible_text = any(
            span["type"] != _INVISIBLE_TEXT and span["opacity"] > 0 and span["chars"] for span in page.get_texttrace()
        )
        return ("mixed" if visible_text else "scanned"), best_dpi


def _words_to_pixels(raw: list[tuple], to_pixels: pymupdf.Matrix) -> tuple[Word, ...]:
    """get_text("words") boxes through an axis-preserving matrix, vectorised.

    A page matrix only scales and turns by multiples of 90 degrees, so a box's image is
    spanned by the images of two opposite corners. (pymupdf.Rect * Matrix per word costs
    ~1 ms per 10 words in Python: most of a dense page's time.)
    """
    if not raw:
        return ()
    boxes = np.array([w[:4] for w in raw], dtype=np.float64).reshape(-1, 2, 2)  # (N, corner, xy)
    a, b, c, d, e, f = to_pixels
    x = boxes[..., 0] * a + boxes[..., 1] * c + e  # (N, 2)
    y = boxes[..., 0] * b + boxes[..., 1] * d + f
    x0, x1, y0, y1 = x.min(axis=1), x.max(axis=1), y.min(axis=1), y.max(axis=1)
    return tuple(
        Word(*coords, w[4]) for coords, w in zip(zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist()), raw)
    )


def _placed_images(page: pymupdf.Page) -> list[dict]:
    """Every image drawn on the page, with its bbox and placement matrix.

    get_image_info interprets the whole content stream (10-40 ms on a dense text page), so
    it is skipped when the page's resources list no image and its content has no inline
    image operator. Conservative: any "BI" byte pair (even inside text) takes the full path.
    """
    if not page.get_images(full=True) and b"BI" not in page.read_contents():
        return []
    return page.get_image_info()


def _pixmap_to_array(pix: pymupdf.Pixmap, height: int, width: int) -> np.ndarray:
    """Pixmap samples -> owned (H, W, 3) uint8 array; one copy, no image encoding.

    Cropped to the planned size: MuPDF may round a fractional bbox 1 px larger.
    """
    rows = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)  # (H, stride)
    pixels = rows[:, : pix.width * pix.n].reshape(pix.height, pix.width, pix.n)  # (H, W, 3), a view
    return pixels[:height, :width].copy()
