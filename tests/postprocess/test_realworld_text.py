"""Grounding on text layers as real PDF producers write them, read back through ingest.

Each page is drawn with PyMuPDF the way some producer does it (ligature glyphs, soft hyphens,
no-break spaces as thousands separators, glyphs drawn one by one out of order, fake bold, a
number whose decimals are positioned apart, right column drawn first, a page turned by /Rotate
with a CropBox away from the origin), then ingested and grounded. Every case checks the same
three things: the right value is grounded, to the box where it is drawn, and a wrong value is
still caught.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal

import numpy as np
import pymupdf
import pytest

from raxdoc.ingest import read_document
from raxdoc.pipeline.rows import page_words
from raxdoc.postprocess import parse_document
from raxdoc.postprocess.numbers import parse_number

HELV = pymupdf.Font("helv")
SIZE = 9.0
PAGE = (595.0, 842.0)
TOL = 0.004  # box tolerance, 0..1 of the page (a few points)


class Sheet:
    """One page: text drawn where asked; `box` is where a drawn string's glyphs are (points)."""

    def __init__(self) -> None:
        self.doc = pymupdf.open()
        self.page = self.doc.new_page(width=PAGE[0], height=PAGE[1])

    def text(self, x: float, y: float, s: str, *, right: bool = False) -> tuple[float, float, float, float]:
        w = HELV.text_length(s, SIZE)
        x0 = x - w if right else x
        writer = pymupdf.TextWriter(self.page.rect)
        writer.append((x0, y), s, font=HELV, fontsize=SIZE)
        writer.write_text(self.page)
        return (x0, y - HELV.ascender * SIZE, x0 + w, y - HELV.descender * SIZE)

    def glyphs(self, x: float, y: float, s: str, order: str) -> tuple[float, float, float, float]:
        """`s` drawn one glyph per text object, in `order` ("reversed" or "shuffled")."""
        xs = [x + HELV.text_length(s[:k], SIZE) for k in range(len(s))]
        idx = list(range(len(s)))[::-1] if order == "reversed" else random.Random(3).sample(range(len(s)), len(s))
        for k in idx:
            self.text(xs[k], y, s[k])
        return (x, y - HELV.ascender * SIZE, x + HELV.text_length(s, SIZE), y - HELV.descender * SIZE)

    def words(self, *, rotate: int = 0, crop: tuple | None = None, ink: bool = False):
        """The page's words as grounding gets them; with `ink`, also the box of its ink (0..1)."""
        if crop:
            self.page.set_cropbox(pymupdf.Rect(*crop))
        if rotate:
            self.page.set_rotation(rotate)
        with read_document(self.doc.tobytes()) as doc:
            page = doc.page(0)
            words = page_words(page.words, page.width, page.height)
            if not ink:
                return words
            ys, xs = np.nonzero(page.pixels.min(axis=2) < 128)
            return words, (xs.min() / page.width, ys.min() / page.height,
                           (xs.max() + 1) / page.width, (ys.max() + 1) / page.height)


def unit(box, size=PAGE, origin=(0.0, 0.0)):
    return ((box[0] - origin[0]) / size[0], (box[1] - origin[1]) / size[1],
            (box[2] - origin[0]) / size[0], (box[3] - origin[1]) / size[1])


def ground(words, items: list[dict], header: dict | None = None):
    text = json.dumps({**(header or {}), "line_items": items})
    return parse_document([text], constrained=True, page_words={0: words})


def assert_box(got, want) -> None:
    assert got == pytest.approx(want, abs=TOL), (got, want)


# -- descriptions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("printed, read, wrong", [
    ("Oﬃce ﬁling cabinet, ﬂat pack", "Office filing cabinet, flat pack", "Office shelving unit, flat pack"),
    ("Garan\u00adtie\u00adverlängerung 3 Jahre", "Garantieverlängerung 3 Jahre", "Garantieverkürzung 5 Jahre"),
])
def test_ligatures_and_soft_hyphens_in_a_description(printed, read, wrong):
    s = Sheet()
    desc = s.text(50, 200, printed)
    amount = s.text(520, 200, "84.00", right=True)
    words = s.words()
    (item,) = ground(words, [{"description": read, "amount": "84.00"}]).grounding.items
    assert item.grounded and item.unverified_fields == ()
    assert_box(item.bbox, unit((desc[0], desc[1], amount[2], amount[3])))
    (bad,) = ground(words, [{"description": wrong, "amount": "84.00"}]).grounding.items
    assert bad.unverified_fields == ("description",)


@pytest.mark.parametrize("hyphen", ["-", "\u00ad"])  # a soft hyphen, printed where the line breaks
def test_a_word_hyphenated_across_lines(hyphen):
    s = Sheet()
    first = s.text(50, 200, "Extended Garantie" + hyphen)
    second = s.text(50, 211, "verlängerung, 3 Jahre")
    s.text(520, 200, "84.00", right=True)
    words = s.words()
    (item,) = ground(words, [{"description": "Extended Garantieverlängerung, 3 Jahre", "amount": "84.00"}]
                     ).grounding.items
    assert item.grounded and item.bbox[3] == pytest.approx(unit(second)[3], abs=TOL)
    assert item.bbox[1] == pytest.approx(unit(first)[1], abs=TOL)


# -- numbers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("printed, value", [
    ("1\u00a0234,56\u00a0€", "1234.56"),  # French: no-break space groups, split into words by MuPDF
    ("1\u202f234,56 €", "1234.56"),  # narrow no-break space: kept inside the word
    ("1'234.50", "1234.50"), ("1’234.50", "1234.50"), ("CHF 1'234.50", "1234.50"),  # Swiss
    ("12,00-", "-12.00"), ("(12.00)", "-12.00"), ("-€12.50", "-12.50"),
    ("€12.50", "12.50"), ("12.50EUR", "12.50"), ("US$1,234.50", "1234.50"), ("Rs.1,234.50", "1234.50"),
    ("Fr.12.50", "12.50"),
    ("１２．５０", "12.50"), ("１，２３４．５０", "1234.50"),  # full-width forms
])
def test_printed_number_forms_are_grounded_and_a_wrong_value_is_not(printed, value):
    s = Sheet()
    s.text(50, 200, "Service")
    box = s.text(520, 200, printed, right=True)
    s.text(50, 400, "Summe 9.876,00 1.234,00" if "," in value else "Total 9,876.00")
    words = s.words()
    (item,) = ground(words, [{"description": "Service", "amount": value}]).grounding.items
    assert item.grounded, (printed, words)
    assert item.bbox[2] == pytest.approx(unit(box)[2], abs=TOL)
    wrong = str(abs(float(value)) + 1)
    (bad,) = ground(words, [{"description": "Service", "amount": wrong}]).grounding.items
    assert bad.unverified_fields == ("amount",), (printed, wrong)


def test_a_number_whose_pieces_the_producer_positioned_apart():
    # "12" then ",50" a point and a half later, and "7" "," "00" each placed on its own: MuPDF
    # splits them into words; grounding reads them as one number.
    s = Sheet()
    s.text(50, 200, "Widget")
    left = s.text(480, 200, "12")
    right = s.text(left[2] + 1.5, 200, ",50")
    s.text(50, 220, "Gadget")
    seven = s.text(480, 220, "7")
    comma = s.text(seven[2] + 1.5, 220, ",")
    zeros = s.text(comma[2] + 1.5, 220, "00")
    words = s.words()
    doc = ground(words, [{"description": "Widget", "amount": "12,50"}, {"description": "Gadget", "amount": "7,00"}])
    first, second = doc.grounding.items
    assert first.grounded and second.grounded
    assert first.bbox[2] == pytest.approx(unit(right)[2], abs=TOL)
    assert second.bbox[2] == pytest.approx(unit(zeros)[2], abs=TOL)
    bad = ground(words, [{"description": "Widget", "amount": "1250"}]).grounding.items[0]
    assert bad.unverified_fields == ("amount",)


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_text_drawn_glyph_by_glyph_out_of_order(order):
    # MuPDF makes one word per glyph of them, except that it may put two glyphs drawn right to
    # left into one word in drawing order ("ble" drawn backwards gives "elb"): only the
    # characters' own positions could undo that (ingest), so the reversed case has no letters.
    s = Sheet()
    read = "Cable tray 200mm"
    desc = s.text(50, 200, read) if order == "reversed" else s.glyphs(50, 200, read, order)
    amount = s.glyphs(480, 200, "1.234,56", order)
    s.text(50, 400, "Summe 9.876,00")
    words = s.words()
    (item,) = ground(words, [{"description": read, "amount": "1.234,56"}]).grounding.items
    assert item.grounded, words
    assert_box(item.bbox, unit((desc[0], desc[1], amount[2], amount[3])))
    (bad,) = ground(words, [{"description": read, "amount": "1.243,56"}]).grounding.items
    assert bad.unverified_fields == ("amount",)


def test_reading_order_differs_from_stream_order():
    # The amount column is drawn first, rows bottom-up: boxes, not stream order, make the table.
    s = Sheet()
    rows = [("Widget blue", "2", "10.00"), ("Gadget", "1", "7.50"), ("Sprocket", "4", "9.00")]
    boxes = {}
    for k, (_, _, amount) in reversed(list(enumerate(rows))):
        boxes[k] = s.text(520, 200 + 14 * k, amount, right=True)
    for k, (desc, qty, _) in reversed(list(enumerate(rows))):
        s.text(330, 200 + 14 * k, qty, right=True)
        s.text(50, 200 + 14 * k, desc)
    words = s.words()
    doc = ground(words, [{"description": d, "quantity": q, "amount": a} for d, q, a in rows])
    for k, item in enumerate(doc.grounding.items):
        assert item.grounded and item.bbox[1] == pytest.approx(unit(boxes[k])[1], abs=TOL)
    swapped = [{"description": d, "quantity": q, "amount": a} for d, q, a in rows]
    swapped[0]["quantity"], swapped[1]["quantity"] = "1", "2"  # each printed, but in the other row
    assert [g.unverified_fields for g in ground(words, swapped).grounding.items][:2] == [("quantity",)] * 2


def test_fake_bold_overprint_is_one_printed_row():
    # The whole row drawn twice, 0.3 pt apart: one row, so a line read twice is still removed.
    s = Sheet()
    for dx in (0.0, 0.3):
        s.text(50 + dx, 200, "Widget blue")
        s.text(330 + dx, 200, "2", right=True)
        s.text(520 + dx, 200, "1 234,50", right=True)
    s.text(50, 214, "Gadget")
    s.text(330, 214, "1", right=True)
    s.text(520, 214, "7,50", right=True)
    words = s.words()
    widget = {"description": "Widget blue", "quantity": "2", "amount": "1234,50"}
    gadget = {"description": "Gadget", "quantity": "1", "amount": "7,50"}
    doc = ground(words, [widget, widget, gadget])
    assert [i.kind for i in doc.issues].count("removed_repeated_line") == 1
    assert all(g.grounded for g in doc.grounding.items) and len(doc.grounding.items) == 2
    (bad,) = ground(words, [{**widget, "amount": "1234,60"}]).grounding.items
    assert bad.unverified_fields == ("amount",)
    # A row nobody read is reported as printed once, not "Widget Widget blue blue 2 2 ...".
    missed = [i.message for i in ground(words, [gadget]).issues if i.kind == "possibly_missed_line"]
    assert len(missed) == 1 and "'Widget blue 2 1 234,50'" in missed[0], missed


# -- page geometry -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_a_rotated_cropped_page_is_grounded_in_its_displayed_coordinates(rotate):
    # Drawn turned so that /Rotate shows it upright; the CropBox starts at (40, 60).
    crop = (40.0, 60.0, 540.0, 760.0)
    s = Sheet()
    pivot = pymupdf.Point(300, 400)
    writer = pymupdf.TextWriter(s.page.rect)
    writer.append((200, 300), "Widget blue", font=HELV, fontsize=SIZE)
    writer.append((400, 300), "1 234,56", font=HELV, fontsize=SIZE)
    writer.write_text(s.page, morph=(pivot, pymupdf.Matrix(rotate)))
    words, ink = s.words(rotate=rotate, crop=crop, ink=True)
    (item,) = ground(words, [{"description": "Widget blue", "amount": "1234.56"}]).grounding.items
    assert item.grounded
    # Where the row shows on the rendered page: the same left and right edges as its ink, and
    # the ink inside the box (a word box runs from the font's ascender to its descender).
    assert item.bbox[0] == pytest.approx(ink[0], abs=TOL) and item.bbox[2] == pytest.approx(ink[2], abs=TOL)
    assert item.bbox[1] <= ink[1] < ink[3] <= item.bbox[3]


def test_codes_and_dates_printed_over_two_lines_of_a_narrow_cell_are_grounded():
    s = Sheet()
    code = [s.text(50, 200, "ART-2025-"), s.text(50, 211, "00417")]
    s.text(120, 200, "Cable tray 200mm")
    s.text(260, 200, "26. Dezember")
    s.text(260, 211, "2025")
    amount = s.text(520, 200, "1 234,89", right=True)
    s.text(50, 240, "ART-2025-00418")  # the next row: never part of the cell above
    s.text(120, 240, "Cable tray 300mm")
    s.text(520, 240, "12,00", right=True)
    words = s.words()
    item = {"product_code": "ART-2025-00417", "description": "Cable tray 200mm", "amount": "1234,89"}
    doc = ground(words, [item], {"issue_date": "2025-12-26"})
    (got,) = doc.grounding.items
    assert got.grounded, got
    assert_box(got.bbox, unit((code[0][0], code[0][1], amount[2], code[1][3])))
    assert doc.grounding.unverified_fields == ()
    wrong = {**item, "product_code": "ART-2025-00418", "amount": "1234,98"}
    (bad,) = ground(words, [wrong]).grounding.items
    assert bad.unverified_fields == ("product_code", "amount")


def test_a_number_is_never_read_across_two_lines():
    """In a tight quantity column "5" above "250" must not confirm a misread 5250 (nor "1 234" over
    "567,89" a 1234567.89): an amount left unverified is safer than one grounded to the wrong place."""
    s = Sheet()
    for i, (qty, desc) in enumerate((("5", "Bolt M8"), ("250", "Washer M8"))):
        s.text(120, 200 + 11 * i, desc)
        s.text(520, 200 + 11 * i, qty, right=True)
    s.text(120, 240, "Cable tray")
    s.text(520, 240, "1 234", right=True)
    s.text(520, 251, "567,89", right=True)
    words = s.words()
    for value in ("5250", "1234567.89"):
        (got,) = ground(words, [{"description": "Bolt M8", "quantity": value}]).grounding.items
        assert "quantity" in got.unverified_fields, (value, got)
    (ok,) = ground(words, [{"description": "Bolt M8", "quantity": "5"}]).grounding.items
    assert ok.grounded and ok.unverified_fields == ()


@pytest.mark.parametrize("printed, value", [
    ("١٬٢٣٤٫٥٠", "1234.50"), ("۱۲۳٫۴", "123.4"), ("１，２３４．５０", "1234.50"),
    ("１２３", "123"), ("1\u00ad234,50", "1234.50"),
])
def test_other_scripts_digits_are_read_as_numbers(printed, value):
    assert parse_number(printed).value == Decimal(value)


@pytest.mark.parametrize("printed, currency", [
    ("12.50EUR", "EUR"), ("€12.50", "EUR"), ("CHF1'234.50", "CHF"), ("Fr.12.50", "CHF"), ("12,50zł", "PLN"),
])
def test_a_currency_glued_to_its_amount_is_found(printed, currency):
    s = Sheet()
    s.text(50, 200, "Service")
    s.text(520, 200, printed, right=True)
    words = s.words()
    value = str(parse_number(printed).value)
    doc = ground(words, [{"description": "Service", "amount": value}], {"currency": currency})
    assert doc.grounding.unverified_fields == () and doc.grounding.items[0].grounded
    other = "USD" if currency != "USD" else "EUR"
    assert ground(words, [{"description": "Service", "amount": value}], {"currency": other}
                  ).grounding.unverified_fields == ("currency",)
