"""Image files (PNG, JPEG, TIFF incl. multi-page) as documents, one page per frame, with Pillow.

A JPEG is one page, whatever MPF images it carries (an iPhone's HDR gain map is one). Each
frame comes out upright (EXIF orientation applied: phone photos of receipts carry it; Pillow
turns a TIFF upright itself) as 8-bit RGB: alpha composited on white (as a PDF renders with
alpha off), CMYK, palette, bilevel and 16-bit grey converted. Pixels stay at the image's own
resolution unless the pixel budget clamps them; a JPEG that must shrink is decoded at reduced
scale (draft mode) instead of in full. PIL's decompression-bomb limit stays on: a frame over
`Image.MAX_IMAGE_PIXELS` is a `PageTooLarge`, not an allocation. Pillow's warnings (corrupt
EXIF) become the page's `warnings`, not lines on stderr.

With `RenderOptions.ocr` each frame gets OCR words (`ocr.py`), in its upright pixels.
Not here: PDFs (`pdf.py`); an image's DPI tag is reported, never used to resample.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import struct
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from raxdoc.errors import CorruptDocument, PageError, PageTooLarge
from raxdoc.ingest.geometry import POINTS_PER_INCH, clamp_size
from raxdoc.ingest.ocr import text_layer
from raxdoc.ingest.options import RenderOptions
from raxdoc.ingest.page import PageImage

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}
# What Pillow's decoders raise on malformed data (one page's failure, never a crash).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, MemoryError, IndexError, KeyError, struct.error)
_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> (transpose to make it upright, clockwise degrees of its rotation part).
_ORIENT = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT, 0),
    3: (Image.Transpose.ROTATE_180, 180),
    4: (Image.Transpose.FLIP_TOP_BOTTOM, 0),
    5: (Image.Transpose.TRANSPOSE, 90),
    6: (Image.Transpose.ROTATE_270, 90),
    7: (Image.Transpose.TRANSVERSE, 270),
    8: (Image.Transpose.ROTATE_90, 270),
}
# DPI tags below this are placeholders (JFIF aspect-only density of 1), not resolutions.
_MIN_PLAUSIBLE_DPI = 10.0


class ImageBackend:
    """One open image file; decodes frames on demand, one at a time."""

    def __init__(self, data: bytes, source: str, fmt: str, options: RenderOptions) -> None:
        self.source = source
        self.options = options
        self._data = data
        self._fmt = _PIL_FORMATS[fmt]
        self.encrypted = False
        self.repaired = False
        try:
            with _caught() as said:
                self._img = Image.open(io.BytesIO(data), formats=[self._fmt])
                # Only a TIFF's frames are pages (a fax, a scanner's batch). A JPEG's further MPF/MPO
                # "frames" are a phone's HDR gain map, a depth map, a preview or a stereo twin; an
                # animated PNG, GIF or WebP is one picture whose first frame is what it shows.
                self.page_count = int(getattr(self._img, "n_frames", 1)) if fmt == "tiff" else 1
        except Image.DecompressionBombError as e:
            raise PageTooLarge(source, str(e), 0) from e
        except UnidentifiedImageError as e:  # its message names a BytesIO object: say it plainly
            raise CorruptDocument(source, f"cannot open {fmt.upper()}: not a readable {fmt.upper()} file") from e
        except _DECODE_ERRORS as e:
            raise CorruptDocument(source, f"cannot open {fmt.upper()}: {type(e).__name__}: {e}") from e
        self.open_warnings = _messages(said)
        self.info = {"format": fmt, "pdf_version": "", "title": "", "producer": "", "creator": ""}
        # Only what the header gave: reading EXIF here would decode a PNG (and fail a truncated
        # one at open instead of as its page).
        software = self._img.info.get("Software") or self._img.info.get("software")
        if isinstance(software, str):
            self.info["producer"] = software.strip("\x00 ")

    def render(self, index: int) -> PageImage:
        try:
            return self._render(index)
        except PageError:
            raise
        except Image.DecompressionBombError as e:
            raise PageTooLarge(self.source, str(e), index) from e
        except _DECODE_ERRORS as e:
            raise PageError(self.source, f"{type(e).__name__}: {e}", index) from e

    def close(self) -> None:
        self._img.close()

    def _render(self, index: int) -> PageImage:
        # A fresh handle per page: draft() and seek() change an image's state, and pages
        # must render the same however often and in whatever order they are asked for.
        with _caught() as said:
            img = Image.open(io.BytesIO(self._data), formats=[self._fmt])
            with img:
                page = self._frame(img, index)
        return dataclasses.replace(page, warnings=_messages(said)) if said else page

    def _frame(self, img: Image.Image, index: int) -> PageImage:
        img.seek(index)
        raw_w, raw_h = img.size
        limit = Image.MAX_IMAGE_PIXELS
        if limit is not None and raw_w * raw_h > limit:
            raise PageTooLarge(self.source, f"image {raw_w} x {raw_h} px exceeds {limit} pixels", index)
        dpi_tag = _dpi(img.info.get("dpi"))
        stated = _orientation(img)
        w, h = clamp_size(raw_w, raw_h, self.options.min_pixels, self.options.max_pixels)
        if self._fmt == "JPEG" and w < raw_w:  # img.format says "MPO" for a JPEG with MPF frames
            img.draft(None, (w, h))  # decode at 1/2, 1/4 or 1/8 scale, not full size
        frame = _to_rgb(img)
        # Pillow turns a TIFF upright itself while decoding (its size is already the upright one)
        # and drops the tag: what is left after decoding is ours to apply, or a TIFF turns twice.
        transpose = _ORIENT.get(_orientation(img), (None, 0))[0]
        rotation = _ORIENT.get(stated, (None, 0))[1]
        if frame.size != (w, h):
            frame = frame.resize((w, h), Image.Resampling.LANCZOS if w < raw_w else Image.Resampling.BICUBIC)
        if transpose is not None:
            frame = frame.transpose(transpose)
        pixels = np.array(frame, dtype=np.uint8)  # (H, W, 3), owned and writable
        dpi = dpi_tag * w / raw_w if dpi_tag else None
        height, width = pixels.shape[:2]
        # An image has no text layer: OCR words when asked (options.ocr).
        words, text_source = text_layer(pixels, (), "scanned", ocr=self.options.ocr, source=self.source,
                                        page_index=index)
        return PageImage(
            page_index=index,
            pixels=pixels,
            dpi=dpi,
            kind="scanned",
            width_pt=width * POINTS_PER_INCH / dpi if dpi else None,
            height_pt=height * POINTS_PER_INCH / dpi if dpi else None,
            rotation=rotation,
            words=words,
            text_source=text_source,
        )


def _orientation(img: Image.Image) -> int:
    """The frame's EXIF orientation (1, upright, when absent or not a number)."""
    value = img.getexif().get(_EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


@contextlib.contextmanager
def _caught() -> Iterator[list[warnings.WarningMessage]]:
    """Pillow's warnings (corrupt EXIF, odd TIFF tags) recorded, not printed once per page; they
    become the page's (or the file's) warnings. Between 1x and 2x the bomb limit Pillow only
    warns: every frame is checked against the limit itself, so that warning is dropped."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield said


def _messages(said: list[warnings.WarningMessage]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(str(w.message).split()) for w in said))


def _dpi(tag: object) -> float | None:
    if not isinstance(tag, tuple) or len(tag) < 2:
        return None
    try:
        dpi = max(float(tag[0]), float(tag[1]))
    except (TypeError, ValueError):
        return None
    return dpi if dpi >= _MIN_PLAUSIBLE_DPI else None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency composited on white."""
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        grey = np.asarray(img, dtype=np.float64)
        if grey.max(initial=0) > 255:  # 16-bit samples
            grey = grey / 257.0
        grey8 = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey8] * 3, axis=-1))  # (H, W, 3)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")
