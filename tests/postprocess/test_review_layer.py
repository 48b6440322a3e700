"""Review findings on `ground_layer`: dropping overprinted words must not be quadratic in the
number of words sharing one text (dot leaders, a column of "1" or "0,00")."""

from __future__ import annotations

import time

from raxdoc.postprocess.ground_layer import tidy_words


def _leaders(lines: int = 40, dots: int = 150) -> list[tuple[float, float, float, float, str]]:
    # Dot leaders drawn one "." per glyph, spaced apart: thousands of words with one text.
    return [(0.05 + k * 0.006, 0.02 + n * 0.024, 0.052 + k * 0.006, 0.032 + n * 0.024, ".")
            for n in range(lines) for k in range(dots)]


def test_many_words_of_one_text_are_tidied_quickly():
    words = _leaders()
    start = time.perf_counter()
    out = tidy_words(words)
    elapsed = time.perf_counter() - start
    assert len(out) == len(words)  # none overlaps another: all kept
    # Quadratic, 6,000 equal words took ~30 s; linear, well under a second even on a busy machine.
    assert elapsed < 3.0, f"tidy_words took {elapsed:.1f} s for {len(words)} words"


def test_overprint_still_dropped_among_many_equal_words():
    words = _leaders(lines=2, dots=50)
    doubled = words + [(x0 + 0.0002, y0 + 0.0002, x1 + 0.0002, y1 + 0.0002, t) for x0, y0, x1, y1, t in words]
    assert len(tidy_words(doubled)) == len(words)


def test_a_large_word_drawn_twice_is_dropped_once():
    # A box much larger than any grid cell must still find its overprint.
    big = (0.1, 0.1, 0.9, 0.3, "TOTAL")
    again = (0.1005, 0.1005, 0.9005, 0.3005, "TOTAL")
    assert [w.text for w in tidy_words([big, again, (0.1, 0.5, 0.2, 0.52, "TOTAL")])] == ["TOTAL", "TOTAL"]


def test_boxes_off_the_page_or_bogus_are_cheap_and_kept():
    words = [(-5.0, -5.0, 1e9, 1e9, "x"), (2.0, 2.0, 2.1, 2.02, "z"), (float("nan"), 0.1, 0.2, 0.12, "y")]
    assert len(tidy_words(words)) == 3
