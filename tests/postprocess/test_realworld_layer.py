"""`ground_layer` on hand-made words: what tidying a producer's text layer keeps, glues and drops."""

from __future__ import annotations

from decimal import Decimal

from raxdoc.postprocess.ground_layer import number_text, tidy_words, wrapped
from raxdoc.postprocess.ground_words import PageText
from tests.postprocess.printed import H, line


def glyphs(x: float, y: float, text: str, gap: float = 0.0) -> list[tuple]:
    """One word per character, 0.01 wide, `gap` apart: text drawn glyph by glyph."""
    return [(x + k * (0.01 + gap), y, x + k * (0.01 + gap) + 0.01, y + H, ch) for k, ch in enumerate(text)]


def texts(words) -> list[str]:
    return [w.text for w in words]


def test_touching_glyphs_are_one_word_in_reading_order_whatever_the_drawing_order():
    drawn = glyphs(0.1, 0.3, "Widget")[::-1] + glyphs(0.2, 0.3, "12,50")[::-1]
    assert texts(tidy_words(drawn)) == ["Widget", "12,50"]
    # A space between them (half a character) keeps two words; so does a smaller size (a superscript).
    assert texts(tidy_words(glyphs(0.1, 0.3, "ab") + glyphs(0.125, 0.3, "cd"))) == ["ab", "cd"]
    sup = [(0.11, 0.3, 0.115, 0.3 + H / 2, "2")]  # touching "m", half its height
    assert texts(tidy_words(line(0.3, (0.1, "m")) + sup)) == ["m", "2"]


def test_an_overprinted_word_is_kept_once_and_distinct_words_all_stay():
    words = line(0.3, (0.1, "Total 12.50")) + [(w[0] + 0.0005, w[1], w[2] + 0.0005, w[3], w[4])
                                               for w in line(0.3, (0.1, "Total 12.50"))]
    assert texts(tidy_words(words)) == ["Total", "12.50"]
    same_text_elsewhere = line(0.3, (0.1, "1")) + line(0.3, (0.5, "1")) + line(0.5, (0.1, "1"))
    assert len(tidy_words(same_text_elsewhere)) == 3


def test_ocr_words_are_only_folded():
    drawn = glyphs(0.1, 0.3, "１２")
    assert texts(tidy_words(drawn, ocr=True)) == ["1", "2"]
    assert texts(tidy_words(drawn)) == ["12"]


def test_number_text_closes_up_only_at_a_separator():
    assert number_text(["12", ",", "50"]) == "12,50"
    assert number_text(["12", ",50"]) == "12,50"
    assert number_text(["1", "234,56", "€"]) == "1 234,56 €"
    assert number_text(["EUR", "12.50", "-"]) == "EUR 12.50 -"


def test_wrapped_pairs_a_cell_with_its_next_line_only():
    words = (line(0.30, (0.10, "INV-2025-"), (0.50, "Widget")) + line(0.316, (0.10, "0042"))
             + line(0.40, (0.10, "0043")))  # a later row, too far below
    page = PageText(words)
    pairs = [(texts(page.words[i] for i in a), texts(page.words[i] for i in b))
             for a, b in wrapped(page.words, [seg for seg, _, _ in page._segments()])]
    assert pairs == [(["INV-2025-"], ["0042"])]
    assert page.codes("INV-2025-0042") and not page.codes("INV-2025-0043")


def test_a_letter_spaced_number_is_read_once_glued():
    # Glyphs a tenth of a character apart: one word, so the number is found and its parts are not.
    page = PageText(line(0.3, (0.1, "Total")) + glyphs(0.5, 0.3, "1.234,56", gap=0.001))
    assert texts(page.words) == ["Total", "1.234,56"]
    assert page.numbers(Decimal("1234.56")) and not page.numbers(Decimal("234.56"))
