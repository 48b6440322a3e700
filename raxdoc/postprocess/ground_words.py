"""A page's text layer indexed for grounding: where a number, date, code, currency or phrase is printed.

`PageText(words)` takes the page's words as (x0, y0, x1, y1, text) with boxes normalised 0..1
of the page, tidies them as real producers need (`ground_layer`: fake-bold overprints dropped,
glyphs drawn out of order glued, full-width digits folded), and builds once what every lookup
needs: words grouped into lines (vertical overlap, left to right), runs of adjacent words (a gap
under ~1.5 characters: one space, never a column gap), and every number printed on the page
keyed by its absolute value. A number may span adjacent words ("1 234,56", "$ 1,234.56", "19 %",
"EUR 12.50", "12.50 -", "12" ",50"); it is read
with `numbers.parse_number` and the page's own decimal separator (its unambiguous numbers vote),
else the document's, else both readings of a "1.234". Each lookup returns `Match`es: the word
indices and their union box, all of them (a value printed twice gives two).

Lookups: `numbers(value)`, `dates(value, order)` (month-name dates span words: "Dec 26, 2025"),
`codes(value)` (exact after removing spaces, case-folded, never a part of a longer code),
`phrases(value)` (normalised text over consecutive words; a phrase may wrap onto the next line
if that line starts near the phrase's left edge), `currency(code)` (the code or its symbol, or
an amount's glued suffix: "12.50EUR"). A number, date or code not on one line is looked for over
a narrow cell's two lines ("INV-2025-" / "0042"), never indexed among the page's numbers.
`PageText(words, ocr=True)`, for a page whose words an OCR read: a code may differ by one
character OCR confuses (O/0, I/1, S/5, B/8) and a phrase needs FUZZY_MIN_OCR; numbers and
dates stay exact (a correction replaces a value with a printed number: it must be the print).

Not here: whether one run of text is a given value (`ground_text`); which match belongs to which
item, verdicts, columns (`grounding`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from raxdoc.postprocess.currency import CurrencyError, currency_code
from raxdoc.postprocess.ground_layer import TextWord, char_width, group_lines, number_text, tidy_words, wrapped
from raxdoc.postprocess.ground_text import code_spans, is_date, is_number_part, norm_text
from raxdoc.postprocess.numbers import NumberError, infer_decimal_separator, parse_number

MAX_RUN = 4  # words one printed number or date may span ("1 234 567,89 €")
FUZZY_MIN = 0.9  # similarity a phrase needs when it is not exactly on the page (after normalising)
FUZZY_MIN_OCR = 0.85  # the same on an OCR page, whose words carry misread letters of their own
_AMOUNT = re.compile(r"\d(?:[\d.,'\u2019\u00a0\u202f]*\d)?")  # the number in a word glued to its currency


@dataclass(frozen=True)
class Match:
    """Where one value is printed: the words (indices into the page's words) and their union box."""

    words: tuple[int, ...]
    box: tuple[float, float, float, float]


def _adjacent(a: TextWord, b: TextWord, chars: float = 1.5) -> bool:
    """b follows a on its line within `chars` character widths (a space, not a column gap)."""
    return -0.5 * char_width(a) <= b.x0 - a.x1 <= chars * max(char_width(a), char_width(b))


class PageText:
    """One page's words, indexed once; every lookup is then cheap."""

    def __init__(self, words: Iterable[Sequence], *, decimal_sep: str | None = None, ocr: bool = False):
        # `ocr`: the words were read by OCR, not printed by the PDF: codes and phrases are matched
        # with OCR's own misreads allowed (numbers stay exact: corrections rest on them).
        self.ocr = ocr
        self.fuzzy_min = FUZZY_MIN_OCR if ocr else FUZZY_MIN
        # As the producer drew them, tidied: overprints dropped, touching glyphs glued (`ground_layer`).
        self.words = tidy_words(list(words), ocr=ocr)
        self.norms = [norm_text(w.text) for w in self.words]
        self.lines = group_lines(self.words)
        self.line_of = {i: n for n, line in enumerate(self.lines) for i in line}
        # The word right after each word on its line, where only a space parts them.
        self.follows = {a: b for line in self.lines for a, b in zip(line, line[1:])
                        if _adjacent(self.words[a], self.words[b])}
        self.decimal_sep = infer_decimal_separator(
            w.text for w in self.words if any(ch.isdigit() for ch in w.text)) or decimal_sep
        self._numbers: dict[Decimal, list[Match]] | None = None
        self._segs: list[tuple[list[int], str, list[int]]] | None = None
        self._wraps: list[tuple[list[int], list[int]]] | None = None

    def box(self, indices: Iterable[int]) -> tuple[float, float, float, float]:
        ws = [self.words[i] for i in indices]
        return (min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws), max(w.y1 for w in ws))

    def _match(self, indices: Sequence[int]) -> Match:
        return Match(tuple(indices), self.box(indices))

    def runs(self, max_len: int = MAX_RUN) -> Iterable[list[int]]:
        """Every run of 1..max_len adjacent words on a line."""
        for i in range(len(self.words)):
            run = [i]
            yield run
            while len(run) < max_len and run[-1] in self.follows:
                run = run + [self.follows[run[-1]]]
                yield run

    # -- numbers ---------------------------------------------------------------------------------
    def _number_runs(self) -> Iterable[list[int]]:
        """Runs that may print one number: a word with a digit, or up to MAX_RUN adjacent words that
        are each numeric or an affix ("$", "%", "EUR", "-") with a digit among them."""
        texts = [w.text for w in self.words]
        digit = [any(ch.isdigit() for ch in t) for t in texts]
        part = [is_number_part(t) for t in texts]
        for i in range(len(texts)):
            if digit[i]:
                yield [i]
            if not part[i]:
                continue
            run = [i]
            while len(run) < MAX_RUN and run[-1] in self.follows and part[self.follows[run[-1]]]:
                run = run + [self.follows[run[-1]]]
                if any(digit[k] for k in run):
                    yield run

    def _index_numbers(self) -> dict[Decimal, list[Match]]:
        if self._numbers is not None:
            return self._numbers
        found: dict[Decimal, list[Match]] = defaultdict(list)
        readings: dict[str, tuple[Decimal, ...]] = {}
        for run in self._number_runs():
            text = number_text([self.words[i].text for i in run])
            if text not in readings:
                readings[text] = self._read(text)
            for value in readings[text]:
                found[value].append(self._match(run))
        self._numbers = dict(found)
        return self._numbers

    def _read(self, text: str) -> tuple[Decimal, ...]:
        """The absolute values `text` may print: one, both readings of an unsettled "1.234", or none."""
        try:
            parsed = parse_number(text, decimal_sep=self.decimal_sep)
            if not parsed.ambiguous:
                return (abs(parsed.value),)
            return abs(parsed.value), abs(parse_number(text, decimal_sep=",").value)
        except NumberError:
            return ()

    def numbers(self, value: Decimal) -> list[Match]:
        """Where `value` is printed (sign ignored: "(12.50)" and "12.50-" show 12.50 too). Never over
        two lines: in a tight column "5" above "250" would confirm a misread 5250, and a wrongly
        grounded amount is worse than a wrapped one left unverified."""
        return list(self._index_numbers().get(abs(value), ()))

    def printed_numbers(self) -> list[tuple[Decimal, Match]]:
        """Every (absolute value, place) printed on the page, the pieces of a spaced number included."""
        return [(v, m) for v, ms in self._index_numbers().items() for m in ms]

    # -- dates, codes, currency ----------------------------------------------------------------
    def dates(self, value: dt.date, order: str | None = None) -> list[Match]:
        """Where `value` is printed as a date, numeric ("26.12.2025") or with a month name
        ("Dec 26, 2025", "26. Dezember 2025": read here from CLDR's month names, not dateparser,
        which costs milliseconds a call), in one run of up to three words; else over a cell's
        two lines ("26. Dezember" / "2025")."""
        found = [self._match(run) for run in self.runs(3) if self._is_date(run, value, order)]
        return found or [self._match(a[-i:] + b[:j]) for a, b in self._wrapped() for i in (1, 2) for j in (1, 2)
                         if i + j <= 3 and i <= len(a) and j <= len(b) and self._is_date(a[-i:] + b[:j], value, order)]

    def _is_date(self, run: list[int], value: dt.date, order: str | None) -> bool:
        return is_date(" ".join(self.words[i].text for i in run), value, order)

    def _wrapped(self) -> list[tuple[list[int], list[int]]]:
        """Pairs of runs that are one cell's two lines (`ground_layer.wrapped`), found once."""
        if self._wraps is None:
            self._wraps = wrapped(self.words, [seg for seg, _, _ in self._segments()])
        return self._wraps

    def _segments(self) -> list[tuple[list[int], str, list[int]]]:
        """Maximal runs of adjacent words per line: (indices, case-folded text without spaces,
        where each word starts in that text)."""
        if self._segs is None:
            self._segs = []
            for line in self.lines:
                seg = [line[0]]
                for nxt in line[1:] + [None]:
                    if nxt is not None and _adjacent(self.words[seg[-1]], self.words[nxt]):
                        seg.append(nxt)
                        continue
                    texts = [self.words[i].text.casefold() for i in seg]
                    starts = [sum(len(t) for t in texts[:k]) for k in range(len(texts))]
                    self._segs.append((seg, "".join(texts), starts))
                    seg = [nxt] if nxt is not None else []
        return self._segs

    def codes(self, value: str) -> list[Match]:
        """Where the code is printed, spaces removed on both sides ("FR76 3000 6000" = "FR7630006000");
        on an OCR page also with one character OCR confuses (`ground_text.code_spans`)."""
        target = "".join(value.split()).casefold()
        found = [self._match(seg[first:last + 1]) for seg, joined, starts in (self._segments() if target else ())
                 for first, last in code_spans(joined, starts, target, confusable=self.ocr)]
        if found or not target:
            return found
        # A code wrapped in its cell ("INV-2025-" / "0042"): a span that crosses the line break.
        texts = {i: self.words[i].text.casefold() for a, b in self._wrapped() for i in a + b}
        out = []
        for a, b in self._wrapped():
            lens = [len(texts[i]) for i in a + b]
            starts = [sum(lens[:k]) for k in range(len(lens))]
            out += [self._match((a + b)[first:last + 1]) for first, last in
                    code_spans("".join(texts[i] for i in a + b), starts, target, confusable=self.ocr)
                    if first < len(a) <= last]
        return out

    def currency(self, code: str) -> list[Match]:
        """Words that name the currency: its ISO code, or a symbol or name that means it."""
        out = []
        for i, w in enumerate(self.words):
            bare = w.text.strip("()[]:,;.")
            symbols = "".join(ch for ch in w.text if unicodedata.category(ch) == "Sc")
            glued = _AMOUNT.sub("", w.text, count=1).strip("()[]:,;-\u2212 ")  # "12.50EUR", "Fr.12.50"
            for text in {bare, symbols, glued} - {""}:
                if len(text) > 12 or any(ch.isdigit() for ch in text):
                    continue
                try:
                    if currency_code(text) == code:
                        out.append(self._match([i]))
                        break
                except CurrencyError:
                    continue
        return out

    # -- phrases ---------------------------------------------------------------------------------
    def _next(self, i: int, left: float) -> list[int]:
        """Words that may continue a phrase after word i: its right neighbour on the line, or a
        word on the next line or two below that starts near the phrase's left edge `left`."""
        w, n = self.words[i], self.line_of[i]
        line = self.lines[n]
        pos = line.index(i)
        out = [line[pos + 1]] if pos + 1 < len(line) and _adjacent(w, self.words[line[pos + 1]], 2.5) else []
        height = w.y1 - w.y0
        for below in self.lines[n + 1:n + 3]:
            first = self.words[below[0]]
            if first.y0 > w.y1 + height:
                break
            out += [j for j in below if abs(self.words[j].x0 - left) <= 2 * char_width(self.words[j])]
        return out

    def phrases(self, value: str, *, fuzzy: bool = True) -> list[Match]:
        """Where the text is printed: exact after `norm_text`, else (`fuzzy`) the best span within
        `fuzzy_min` (a misread letter, a dropped hyphen)."""
        target = norm_text(value)
        if not target:
            return []
        exact: list[Match] = []
        for start, n in enumerate(self.norms):
            if n and target.startswith(n):
                self._walk([start], len(n), target, self.words[start].x0, exact)
        if exact or len(target) < 5 or not fuzzy:
            return exact
        return self._fuzzy(target)

    def _walk(self, path: list[int], got: int, target: str, left: float, out: list[Match]) -> None:
        if got == len(target):
            out.append(self._match(path))
            return
        for j in self._next(path[-1], left):
            n = self.norms[j]
            if target.startswith(n, got) and j not in path:  # an empty norm ("&", "-") passes through
                self._walk(path + [j], got + len(n), target, left, out)

    def _fuzzy(self, target: str) -> list[Match]:
        """Greedy span growth from every plausible start; the best span if it is similar enough."""
        best, best_score = None, self.fuzzy_min
        for start, n in enumerate(self.norms):
            # A start shares the first letter (a misread there is rare) and most of the word.
            if len(n) < 3 or n[0] != target[0] or \
                    difflib.SequenceMatcher(None, n, target[:len(n)]).ratio() < 0.75:
                continue
            path, acc = [start], n
            while len(acc) < len(target):
                nexts = [j for j in self._next(path[-1], self.words[start].x0) if j not in path]
                if not nexts:
                    break
                j = max(nexts, key=lambda k: difflib.SequenceMatcher(
                    None, acc + self.norms[k], target[:len(acc) + len(self.norms[k])]).ratio())
                path.append(j)
                acc += self.norms[j]
            score = difflib.SequenceMatcher(None, acc, target).ratio()
            if score >= best_score:
                best, best_score = path, score
        return [self._match(best)] if best else []
