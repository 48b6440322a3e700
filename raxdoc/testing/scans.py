"""Born-digital PDFs turned into scans, for OCR tests and benchmarks.

    from raxdoc.testing.scans import scan_pdf, scan_png
    scanned = scan_pdf(inv.pdf, dpi=150)   # every page one JPEG image, no text: ingest calls it "scanned"
    png = scan_png(inv.pdf, 0, dpi=150)    # page 0 as a PNG file

A page is rasterised in grey (as office scanners send invoices), optionally given scanner noise
(seeded Gaussian grain), and placed over the whole page of a new PDF of the same size. The page
geometry is unchanged, so a truth record's normalised boxes (`invoices.py`) hold for the scan.

Not here: the invoices themselves (`invoices.py`), OCR (`raxdoc.ingest.ocr`).
"""

from __future__ import annotations

import io

import numpy as np
import pymupdf
from PIL import Image


def _grey_page(page: pymupdf.Page, dpi: float, noise: float, seed: int) -> Image.Image:
    zoom = dpi / 72.0
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=pymupdf.csGRAY, alpha=False)
    grey = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)  # (H, W)
    if noise > 0:
        rng = np.random.default_rng(seed)
        grey = np.clip(grey + rng.normal(0.0, noise, grey.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(grey, mode="L")


def scan_pdf(pdf: bytes, *, dpi: float = 150.0, noise: float = 0.0, quality: int = 85, seed: int = 0) -> bytes:
    """`pdf` with each page replaced by a grey JPEG of it at `dpi` (`noise`: grain sigma, 0..255)."""
    src = pymupdf.open(stream=pdf, filetype="pdf")
    out = pymupdf.open()
    for i, page in enumerate(src):
        buf = io.BytesIO()
        _grey_page(page, dpi, noise, seed + i).save(buf, format="JPEG", quality=quality)
        new = out.new_page(width=page.rect.width, height=page.rect.height)
        new.insert_image(new.rect, stream=buf.getvalue())
    data = out.tobytes(garbage=3, deflate=True)
    src.close()
    out.close()
    return data


def scan_png(pdf: bytes, page_index: int = 0, *, dpi: float = 150.0, noise: float = 0.0, seed: int = 0) -> bytes:
    """Page `page_index` of `pdf` as a grey PNG at `dpi`, its DPI tagged."""
    src = pymupdf.open(stream=pdf, filetype="pdf")
    img = _grey_page(src[page_index], dpi, noise, seed)
    src.close()
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()
