"""Is this printed text that value? The text rules grounding applies to one run of words.

`norm_text` (letters and digits, case-folded: how phrases compare), `is_date` (text printing a
date, numeric or `named_date`: with its month's name, from CLDR's month names in the date
languages, without dateparser, which costs milliseconds a call), `is_number_part` (a word that
may be part of a printed number: digits with separators, or a sign, bracket, %, symbol or ISO
code beside them) and
`code_spans` (where a code is printed in a run of words; on an OCR page, with at most one of the
characters OCR confuses in a code: O/0, I/l/1, S/5, B/8).

Not here: finding runs of words on a page (`ground_words`), verdicts (`grounding`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections import defaultdict

from babel import Locale

from raxdoc.postprocess.dates import DEFAULT_LANGUAGES, DateError, numeric_parts, parse_date

# A word that may stand beside a number without being one: a sign, bracket, %, symbol or ISO code.
_AFFIX = re.compile(r"^(?:[^\w\s]{1,3}|\(?[A-Z]{3}\)?)$")
_NUMERIC_WORD = re.compile(r"^[-\u2212(]?[\d.,'\u2019\u202f\u00a0]*\d[\d.,'\u2019\u202f\u00a0]*[)%-]?$")


def norm_text(text: str) -> str:
    """Case-folded letters and digits only: "Garantie-\\nverlängerung," ~ "garantieverlängerung"."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


@functools.cache
def _month_names() -> dict[str, frozenset[int]]:
    """Case-folded month names and abbreviations (no final dot) of the date languages -> month numbers."""
    names: dict[str, set[int]] = defaultdict(set)
    for language in DEFAULT_LANGUAGES:
        months = Locale.parse(language).months
        for context in months.values():
            for width in ("wide", "abbreviated"):
                for number, name in context.get(width, {}).items():
                    names[name.casefold().rstrip(".")].add(number)
    return {k: frozenset(v) for k, v in names.items()}


def _is_month(token: str, month: int) -> bool:
    names = _month_names()
    if month in names.get(token, ()):
        return True  # also a 3+ letter cut of a full name: "Sept", "Dez"
    return len(token) >= 3 and any(month in ms and len(n) > len(token) and n.startswith(token)
                                   for n, ms in names.items())


def named_date(text: str, value: dt.date) -> bool:
    """`text` is exactly the day, the month's name and the year of `value`, in any order."""
    tokens = [re.sub(r"(?<=\d)(st|nd|rd|th|er|e)$", "", t) for t in re.findall(r"\w+", text.casefold())]
    digits = [t for t in tokens if t.isdigit()]
    words = [t for t in tokens if not t.isdigit()]
    if len(digits) != 2 or len(words) != 1 or not _is_month(words[0], value.month):
        return False
    years = {str(value.year), str(value.year)[2:]}
    a, b = digits
    return any(int(d) == value.day and y in years for d, y in ((a, b), (b, a)))


def numeric_date(text: str, order: str) -> dt.date | None:
    try:
        return parse_date(text, order=order).value
    except DateError:
        return None


def is_date(text: str, value: dt.date, order: str | None = None) -> bool:
    """`text` prints the date `value`: numeric in `order` (else either of DMY, MDY), or named."""
    text = text.strip(" ,;:")
    year, day = str(value.year), str(value.day)
    if (year not in text and year[2:] not in text) or day not in text:
        return False  # cheap, before any parsing
    if numeric_parts(text) is None:
        return named_date(text, value)
    return any(numeric_date(text, o) == value for o in ([order] if order else ["DMY", "MDY"]))


def is_number_part(word: str) -> bool:
    """`word` may be one piece of a number printed over several words ("1", "234,56", "€", "%")."""
    return bool(_NUMERIC_WORD.match(word) or _AFFIX.match(word))


# Characters an OCR reads for one another in codes, each mapped to one class (case-folded).
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1", "s": "5", "b": "8"})
MAX_CONFUSIONS = 1  # confusable characters a code read from an OCR page may differ by


def code_spans(joined: str, starts: list[int], target: str, *, confusable: bool = False) -> list[tuple[int, int]]:
    """(first, last) word of each place `target` is printed in a run of words: `joined` is the run's
    case-folded text without spaces, `starts` where each word starts in it, `target` the case-folded
    code without spaces. Exact, else (`confusable`: an OCR page) differing by at most MAX_CONFUSIONS
    characters OCR confuses ("INV-2O25" for "INV-2025"), never by any other. A code never continues
    into letters or digits of its own word ("A12345" is not "12345"); a word boundary ends it."""
    spans = [(first, last) for first, last, _ in _spans(joined, joined, starts, target)]
    if spans or not confusable:
        return spans
    # Both sides mapped to the confusion classes, then the raw characters counted where they differ.
    return [(first, last) for first, last, at in
            _spans(joined.translate(_CONFUSABLE), joined, starts, target.translate(_CONFUSABLE))
            if sum(a != b for a, b in zip(joined[at:at + len(target)], target)) <= MAX_CONFUSIONS]


def _spans(haystack: str, raw: str, starts: list[int], target: str) -> list[tuple[int, int, int]]:
    """(first word, last word, offset) of each place `target` occurs in `haystack` on word bounds
    (`raw`: the printed text `haystack` was mapped from, same length)."""
    ends = starts[1:] + [len(raw)]
    out = []
    at = haystack.find(target) if target else -1
    while at >= 0:
        end = at + len(target)
        if (at in starts or not raw[at - 1:at].isalnum()) and (end in ends or not raw[end:end + 1].isalnum()):
            first = max(k for k, s0 in enumerate(starts) if s0 <= at)
            last = max(k for k, s0 in enumerate(starts) if s0 < end)
            out.append((first, last, at))
        at = haystack.find(target, at + 1)
    return out
