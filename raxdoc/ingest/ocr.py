"""An OCR text layer for pages without one (scans, photos): page pixels -> `Word`s, on the CPU.

    from raxdoc.ingest.ocr import ocr_words
    words = ocr_words(page.pixels)     # (x0, y0, x1, y1, text) in the image's own pixels

RapidOCR 3 (PyPI `rapidocr`, the `ocr` extra) runs PaddleOCR's PP-OCRv6 detector and recogniser
(the "small" pair) with onnxruntime. Its wheel ships those ONNX files; we hand it their paths, so
nothing is ever downloaded (RapidOCR would fetch a model it cannot find). The recogniser carries
its own character list (Latin, digits, accents, CJK), so no dictionary file is needed either.

Words, not lines: RapidOCR finds text lines; with `return_word_box` it also places each word of a
line from the recogniser's own CTC alignment (where each character was read in the line crop),
which is measured, not guessed. We take those boxes, and fall back to sharing a line's box out by
character count only for a line RapidOCR gave no word boxes for. Grounding needs word boxes that
end where the ink ends: it joins adjacent words into one number ("1 234,56") by their gaps. In
height a word takes its line's detector box, which the detector pads for the recogniser: measured
on generated invoices, a median 1.16x the height of the same word in the PDF's text layer, and the
CTC-placed ends sit ~0.1 of that height right of the ink (IoU with the PDF's word box: median 0.83).

One engine per process, built on first use and kept (loading takes ~0.1 s, models stay in
memory, ~60 MB). Calls take a lock: onnxruntime sessions are thread-safe, but RapidOCR stores
per-call settings on the engine object. onnxruntime runs one thread per engine: ingest
parallelises over processes (one Ray task per core), and its default of every core per process
would oversubscribe the machine. The angle classifier is off: ingest hands pages upright (PDF
/Rotate and EXIF orientation applied), and it costs a pass over every line.

`OcrUnavailable` (a missing package) is defined with the other typed errors (`raxdoc.errors`) and
re-exported here.

Not here: deciding which pages need OCR (`pdf.py`, `image.py`), grounding (raxdoc.postprocess).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raxdoc.errors import OCR_INSTALL_HINT as INSTALL_HINT, OcrUnavailable, PageError
from raxdoc.ingest.page import PageKind, TextSource, Word

# The models the rapidocr wheel ships (rapidocr/models/), by RapidOCR's config section.
_MODELS = {"Det": "PP-OCRv6_det_small.onnx", "Rec": "PP-OCRv6_rec_small.onnx",
           "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx"}
# Lines the recogniser is less sure of than this are dropped (RapidOCR's own default).
MIN_LINE_SCORE = 0.5
REC_HEIGHT = 48  # the recogniser's input height (PP-OCR's)

_lock = threading.Lock()
_engine: Any = None


def model_paths() -> dict[str, Path]:
    """The packaged ONNX files by RapidOCR config section; OcrUnavailable if any is missing."""
    try:
        import rapidocr
    except ImportError as e:
        raise OcrUnavailable() from e
    root = Path(rapidocr.__file__).parent / "models"
    paths = {section: root / name for section, name in _MODELS.items()}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise OcrUnavailable("--ocr", f"{INSTALL_HINT} (the installed rapidocr lacks {', '.join(missing)})")
    return paths


def check_available() -> None:
    """Raise OcrUnavailable now (a usage error, before any page is read) if OCR cannot run."""
    model_paths()
    try:
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise OcrUnavailable() from e


def engine() -> Any:
    """This process's RapidOCR engine (built once; OcrUnavailable without the package)."""
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = _build()
    return _engine


def _build() -> Any:
    paths = model_paths()
    try:
        from rapidocr import RapidOCR
    except ImportError as e:
        raise OcrUnavailable() from e
    params = {f"{section}.model_path": str(path) for section, path in paths.items()}
    params.update({
        "Global.log_level": "warning",  # RapidOCR logs every model it loads at "info"
        "Global.use_cls": False,
        "Global.return_word_box": True,
        "Global.text_score": MIN_LINE_SCORE,
        "EngineConfig.onnxruntime.intra_op_num_threads": 1,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        # A batch of line crops is padded to its widest crop, but never below this width (RapidOCR's
        # default 320 px): most cells of an invoice ("GBP", "12.50") are 60-150 px at the recogniser's
        # 48 px height, so the default spent most of the recogniser's time on padding (~7.7 -> ~4 CPU-s
        # a page measured; the words read are the same). Batches are sorted by width, so little pads.
        "Rec.rec_img_shape": [3, REC_HEIGHT, REC_HEIGHT],
    })
    return RapidOCR(params=params)


def text_layer(pixels: np.ndarray, words: tuple[Word, ...], kind: PageKind, *, ocr: bool, source: str,
               page_index: int) -> tuple[tuple[Word, ...], TextSource | None]:
    """A page's words and where they came from: its own text layer when that has any letter or
    digit; OCR of its pixels when `ocr` is on and the page is a scan (a PDF page with no visible
    text, an image file) without one; otherwise what it has. Digital and mixed pages print their
    text: they are never OCR'd. The one place this is decided."""
    if any(any(c.isalnum() for c in w.text) for w in words):
        return words, "pdf"
    if ocr and kind == "scanned":
        found = ocr_words(pixels, source, page_index)
        return found, ("ocr" if found else None)
    return words, ("pdf" if words else None)


def ocr_words(pixels: np.ndarray, source: str = "<image>", page_index: int = 0) -> tuple[Word, ...]:
    """The words printed on an (H, W, 3) uint8 RGB page, boxes in its pixels, in reading order of
    lines (top to bottom as RapidOCR found them), left to right within a line.

    OcrUnavailable without RapidOCR; PageError (of `source`, `page_index`) if the OCR itself fails.
    """
    ocr = engine()
    bgr = np.ascontiguousarray(pixels[..., ::-1])  # RapidOCR reads arrays as OpenCV does: BGR
    try:
        with _lock:
            result = ocr(bgr)
    except Exception as e:  # onnxruntime / OpenCV on a page they cannot take: this page's error
        raise PageError(source, f"OCR failed: {type(e).__name__}: {e}", page_index) from e
    if result is None or not getattr(result, "txts", None):
        return ()
    height, width = pixels.shape[:2]
    return words_from_lines(result.txts, result.boxes, getattr(result, "word_results", ()) or (), width, height)


def words_from_lines(texts: Sequence[str], boxes: Any, word_results: Sequence[Any], width: int, height: int
                     ) -> tuple[Word, ...]:
    """RapidOCR's lines (text, quadrilateral) and word boxes -> `Word`s clipped to the image.

    `word_results` holds, in line order, one tuple of (word, score, quadrilateral) per line that
    got word boxes, so it may skip lines (RapidOCR drops a line whose words it could not place):
    a line takes the next group whose words spell it (spaces aside), else its box is shared out.
    """
    out: list[Word] = []
    groups = [g for g in word_results if g]
    j = 0
    for text, quad in zip(texts, boxes):
        if not text.strip():
            continue
        group = groups[j] if j < len(groups) else ()
        spelled = "".join(str(w[0]) for w in group).replace(" ", "")
        if group and spelled == text.replace(" ", "") and all(w[2] is not None for w in group):
            j += 1
            found = [(str(w[0]), _aabb(w[2])) for w in group]
        else:
            found = split_line(text, _aabb(quad))
        for word, (x0, y0, x1, y1) in found:
            for part in word.split():  # a word box that still holds a space: one Word a token
                box = (max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1))
                if box[2] > box[0] and box[3] > box[1]:
                    out.append(Word(*box, part) if part == word.strip() else
                               Word(*_part_box(word, part, box), part))
    return tuple(out)


def split_line(text: str, box: tuple[float, float, float, float]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """A line's words with its box shared out by character count (a space counts one character):
    the fallback where RapidOCR gave no word boxes. Printed digits are of one width in most
    faces, so amounts, the values grounding matters most for, land close to their ink."""
    x0, y0, x1, y1 = box
    step = (x1 - x0) / max(1, len(text))
    out, start = [], 0
    for word in text.split(" "):
        if word:
            out.append((word, (x0 + start * step, y0, x0 + (start + len(word)) * step, y1)))
        start += len(word) + 1
    return out


def _part_box(word: str, part: str, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """Box of token `part` inside `word`'s box, by character count (as `split_line`)."""
    at = word.find(part)
    x0, y0, x1, y1 = box
    step = (x1 - x0) / max(1, len(word))
    return x0 + at * step, y0, x0 + (at + len(part)) * step, y1


def _aabb(quad: Any) -> tuple[float, float, float, float]:
    """Axis-aligned box around a quadrilateral [[x, y] x 4] (a skewed line's box) or a box."""
    pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)  # (4, xy)
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())
