"""Fixture builders for ingest tests: small PDFs and images made on the fly with PyMuPDF and Pillow."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pymupdf
import pytest
from PIL import Image

from tests.ingest.pdf_bytes import raw_pdf

DATA = Path(__file__).resolve().parents[1] / "data"


def block_image(width: int, height: int, seed: int = 0, block: int = 20) -> np.ndarray:
    """(H, W, 3) uint8 of flat random blocks: survives exact rendering, shows any shift or turn."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 256, (-(-height // block), -(-width // block), 3), dtype=np.uint8)
    return np.kron(cells, np.ones((block, block, 1), dtype=np.uint8))[:height, :width]


def encode(arr: np.ndarray | Image.Image, fmt: str = "PNG", **save) -> bytes:
    img = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


def scan_pdf(pixels: np.ndarray, dpi: float, *, rotate: int = 0, pages: int = 1, text: str | None = None) -> bytes:
    """A PDF whose page(s) hold `pixels` placed at exactly `dpi`; its PNG says 72 dpi (a lie)."""
    height, width = pixels.shape[:2]
    stream = encode(pixels, "PNG", dpi=(72, 72))
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=width * 72 / dpi, height=height * 72 / dpi)
        page.insert_image(page.rect, stream=stream)
        if text:
            page.insert_text((10, 20), text, fontsize=10)
        page.set_rotation(rotate)
    return doc.tobytes()


def text_pdf(lines: list[str], *, width: float = 612, height: float = 792, rotate: int = 0, pages: int = 1) -> bytes:
    """A born-digital PDF: each line of text 20 pt below the last, from (72, 72)."""
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page(width=width, height=height)
        for i, line in enumerate(lines):
            page.insert_text((72, 72 + 20 * i), line, fontsize=11)
        page.set_rotation(rotate)
    return doc.tobytes()


def zero_page_pdf() -> bytes:
    """A well-formed PDF (correct xref, no repair needed) whose page tree is empty."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


@pytest.fixture
def build() -> SimpleNamespace:
    return SimpleNamespace(
        block_image=block_image, encode=encode, scan_pdf=scan_pdf, text_pdf=text_pdf, zero_page_pdf=zero_page_pdf
    )


@pytest.fixture
def data_dir() -> Path:
    return DATA
