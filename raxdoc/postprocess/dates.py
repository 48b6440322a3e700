"""Printed dates to `datetime.date`, given the document's day/month order.

Numeric dates ("05/03/2024", "5.3.24", "2024-03-05") are read here directly,
in the order `parse_date` is given; without one, a date with both numbers <= 12
is read day-first and flagged ambiguous. Which order a document uses is decided
from all its evidence in `date_order.py` (the shape helpers it uses live here:
`numeric_parts`, `numeric_separator`, `order_evidence`, `locale_date_order`).
Dates with month names ("12 März 2024", "March 5, 2024") go to dateparser.
Times and time zones are dropped; partial dates (no day or no year) are errors.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import dateparser
from babel import Locale
from babel.core import UnknownLocaleError

_NUMERIC = re.compile(r"^\s*(\d{1,4})\s*([./\-])\s*(\d{1,2})\s*\2\s*(\d{2,4})\.?\s*$")
_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}.*$")
_DATEPARSER_SETTINGS = {
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,
    "PREFER_LOCALE_DATE_ORDER": False,
}
# Month-name languages tried without a locale hint. Letting dateparser try all
# of its ~200 languages costs ~8 s of loading per process (vs ~2 s for these);
# a document in another language needs its locale hint.
DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "nb", "fi", "cs")


class DateError(ValueError):
    """Text that is not one complete calendar date."""


@dataclass(frozen=True)
class ParsedDate:
    value: dt.date
    ambiguous: bool  # both numbers <= 12 and no order known


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:  # two-digit years: invoices are recent, 70-99 is last century
        year += 2000 if year < 70 else 1900
    return year


def numeric_parts(text: str) -> tuple[int, int, int, bool] | None:
    """(a, b, c, year_first) of a numeric date, or None for other shapes."""
    m = _NUMERIC.match(str(text))
    if not m:
        return None
    a, _, b, c = m.groups()
    if len(a) == 4:
        return int(a), int(b), int(c), True
    if len(a) == 3:
        return None
    return int(a), int(b), _year(c), False


def numeric_separator(text: str) -> str | None:
    """The separator of a numeric date ("05.08.2025" -> "."), None for other shapes."""
    m = _NUMERIC.match(str(text))
    return m.group(2) if m else None


def order_evidence(text: str) -> str | None:
    """"DMY" / "MDY" / "YMD" when `text` alone proves its order."""
    parts = numeric_parts(text)
    if parts is None:
        return None
    a, b, _, year_first = parts
    if year_first:
        return "YMD"
    if a > 12 >= b:
        return "DMY"
    if b > 12 >= a:
        return "MDY"
    return None


def locale_date_order(locale: str | None) -> str | None:
    """Day/month order of the locale's short date pattern ("en_US" -> "MDY")."""
    if not locale:
        return None
    try:
        pattern = Locale.parse(locale.replace("-", "_")).date_formats["short"].pattern
    except (UnknownLocaleError, ValueError, TypeError, KeyError):
        return None
    pos = {k: pattern.find(k) for k in "dMy"}
    if min(pos.values()) < 0:
        return None
    return "".join(sorted("DMY", key=lambda k: pos[{"D": "d", "M": "M", "Y": "y"}[k]]))


def parse_date(text: str, *, order: str | None = None, locale: str | None = None) -> ParsedDate:
    """Parse one printed date; `order` ("DMY"/"MDY") settles "05/03/2024"."""
    raw = str(text).strip()
    iso = _ISO_TIME.match(raw)
    if iso:
        raw = iso.group(1)
    parts = numeric_parts(raw)
    if parts is not None:
        a, b, c, year_first = parts
        ambiguous = False
        if year_first:
            y, m, d = a, b, c
        elif a > 12 or (b <= 12 and order != "MDY"):
            d, m, y = a, b, c
            ambiguous = b <= 12 and a <= 12 and order is None and a != b
        else:
            m, d, y = a, b, c
        try:
            return ParsedDate(dt.date(y, m, d), ambiguous)
        except ValueError as exc:
            raise DateError(f"no such date: {text!r}") from exc
    if not any(ch.isdigit() for ch in raw) or len(raw) > 64:
        raise DateError(f"not a date: {text!r}")
    settings = dict(_DATEPARSER_SETTINGS, DATE_ORDER=order or "DMY")
    lang = locale.replace("-", "_").split("_")[0].lower() if locale else None
    found = None
    for langs in ([lang] if lang else [], list(DEFAULT_LANGUAGES)):
        if not langs:
            continue
        try:
            found = dateparser.parse(raw, settings=settings, languages=langs)
        except (ValueError, OverflowError, TypeError, AttributeError, re.error):
            found = None  # unknown language code or a dateparser hiccup: try the next set
        if found is not None:
            break
    if found is None:
        raise DateError(f"not a date: {text!r}")
    return ParsedDate(found.date(), False)
