"""Is this printed text that value? The text rules grounding applies to one run of words.

`norm_text` (letters and digits, case-folded: how phrases compare), `named_date` (a date written
with its month's name, from CLDR's month names in the date languages, without dateparser, which
costs milliseconds a call), `numeric_date` and `is_number_part` (a word that may be part of a
printed number: digits with separators, or a sign, bracket, %, symbol or ISO code beside them).

Not here: finding runs of words on a page (`ground_words`), verdicts (`grounding`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections import defaultdict

from babel import Locale

from raxdoc.postprocess.dates import DEFAULT_LANGUAGES, DateError, parse_date

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


def is_number_part(word: str) -> bool:
    """`word` may be one piece of a number printed over several words ("1", "234,56", "€", "%")."""
    return bool(_NUMERIC_WORD.match(word) or _AFFIX.match(word))
