"""Read printed numbers in any common locale into exact Decimals.

Handles grouping with "." "," space, no-break spaces and apostrophes (de_CH),
Indian 2-digit groups, negative forms "-12", "−12", "(12.00)", "12.00-",
"EUR-12", and currency or percent text around the number ("€ 1.234,56",
"1.234,56 EUR", "USD 12", "Rs.1,234", "19 %"), full-width and other scripts'
digits (`fold_digits`). The one truly ambiguous shape, a single separator
followed by exactly three digits ("1.234", "1,234"), is resolved by a
decimal-separator hint (from the page's other numbers or the locale) and, if
there is none, read with "." as decimal and flagged ambiguous. Printed
precision is kept ("12.50" stays 12.50): the checks use it as tolerance.
Currency detection is `currency.py`; this module never guesses a currency.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.core import UnknownLocaleError
from babel.numbers import get_decimal_symbol

from raxdoc.schemas.types import DECIMAL_PRECISION, DECIMAL_SCALE

_MINUS = "-\u2212\u2013\u2012\ufe63\uff0d"  # hyphen, minus sign, en dash, figure dash, small/fullwidth
_SPACE_GROUP = " \u00a0\u202f\u2009\u2007'\u2019\u02bc`"  # spaces and apostrophes: always grouping
# One run of digits and separators, starting and ending with a digit, or a
# leading-separator fraction like ".5" (not after a letter: "Rs.1,234.50", "Fr.12.50").
_CORE = re.compile(r"(?:(?<![^\W\d_])[.,])?\d(?:[\d.,%s]*\d)?" % re.escape(_SPACE_GROUP))


class NumberError(ValueError):
    """Text that is not one readable number."""


@dataclass(frozen=True)
class ParsedNumber:
    value: Decimal
    ambiguous: bool  # "1.234"-style read without a separator hint


# Arabic decimal and thousands separators: unambiguous, unlike "." and ",".
_ARABIC_SEPARATORS = {"\u066b": ".", "\u066c": "'"}


def fold_digits(text: str) -> str:
    """Full-width forms ("１２．５０") and any script's decimal digits (Arabic-Indic "١٢٣") as
    ASCII; the Arabic decimal and thousands separators as "." and an apostrophe. Letters,
    ligatures and spaces are left as printed."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if "\uff01" <= ch <= "\uff5e":
            out.append(unicodedata.normalize("NFKC", ch))
        elif ch in _ARABIC_SEPARATORS:
            out.append(_ARABIC_SEPARATORS[ch])
        elif not ch.isascii() and unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.decimal(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _clean(text: str) -> str:
    # Drop bidi / format marks (RLM, ALM, soft hyphen) babel and PDF producers put around numbers.
    return "".join(ch for ch in fold_digits(text) if unicodedata.category(ch) != "Cf").strip()


def _split_core(text: str) -> tuple[str, str, str]:
    runs = list(_CORE.finditer(text))
    if len(runs) != 1:
        raise NumberError(f"expected one number, found {len(runs)} in {text!r}")
    m = runs[0]
    return text[: m.start()], m.group(), text[m.end():]


# "150,- €" / "150,--": German-style whole amounts, a dash for zero cents, not a sign.
_ZERO_CENTS = re.compile(r"^[.,](?:-{1,2}|\u2013|\u2014)")


def _is_negative(prefix: str, suffix: str) -> bool:
    p, s = prefix.strip(), _ZERO_CENTS.sub("", suffix.strip()).strip()
    if p.endswith("(") or p.startswith("("):
        return s.startswith(")") or s.endswith(")")
    return any(c in _MINUS for c in p) or s.startswith(tuple(_MINUS)) or s.endswith(tuple(_MINUS))


def _valid_groups(groups: list[str]) -> bool:
    """Thousands groups: 3-digit after the first, or Indian 2-digit groups ending in 3."""
    if not groups[0] or len(groups[0]) > 3 or len(groups[-1]) != 3:
        return False
    return all(len(g) in (2, 3) for g in groups[1:])


def _decimal_sep_of(core: str, hint: str | None) -> tuple[str | None, bool]:
    """Which of "." / "," is the decimal separator in `core` (None: integer); and ambiguity."""
    spaced = any(c in _SPACE_GROUP for c in core)
    seps = [c for c in core if c in ".,"]
    kinds = set(seps)
    if not seps:
        return None, False
    if len(kinds) == 2:
        return seps[-1], False
    sep = seps[0]
    if len(seps) > 1:
        return None, False  # repeated: grouping
    if spaced:
        return sep, False  # space / apostrophe already groups, so this one is decimal
    before, after = core.split(sep)
    if len(after) != 3 or before in ("", "0"):
        return sep, False
    if hint in (".", ","):
        return (sep if hint == sep else None), False
    return (sep if sep == "." else None), True


def parse_number(text: str, *, decimal_sep: str | None = None) -> ParsedNumber:
    """Parse one printed number; `decimal_sep` ("." or ",") settles "1.234" shapes."""
    cleaned = _clean(str(text))
    prefix, core, suffix = _split_core(cleaned)
    if any(ch.isdigit() for ch in prefix + suffix):
        raise NumberError(f"stray digits around the number in {text!r}")
    if _ZERO_CENTS.match(suffix.strip()):
        decimal_sep = suffix.strip()[0]  # "1.500,-": the comma before the dash is the decimal mark
    dec, ambiguous = _decimal_sep_of(core, decimal_sep)
    digits = "".join(c for c in core if c not in _SPACE_GROUP)
    if dec is not None:
        int_part, _, frac = digits.rpartition(dec)
        group_sep = "," if dec == "." else "."
        if not frac.isdigit() and frac != "" or dec in int_part:
            raise NumberError(f"decimal separator misplaced in {text!r}")
        if any(c in _SPACE_GROUP for c in core.rpartition(dec)[2]):
            raise NumberError(f"grouping inside the fraction in {text!r}")  # "1.5 250": two numbers
        int_groups = int_part.split(group_sep)
    else:
        int_part, frac = digits, ""
        int_groups = re.split(r"[.,]", int_part)
    if len(int_groups) > 1 and not _valid_groups(int_groups):
        raise NumberError(f"malformed digit grouping in {text!r}")
    spaced = re.split("[%s]" % re.escape(_SPACE_GROUP), core.rpartition(dec)[0] if dec else core)
    if len(spaced) > 1 and not _valid_groups(spaced):
        raise NumberError(f"malformed digit grouping in {text!r}")
    number = "".join(int_groups) or "0"
    sign = "-" if _is_negative(prefix, suffix) else ""
    try:
        value = Decimal(f"{sign}{number}.{frac}" if frac else f"{sign}{number}")
    except InvalidOperation as exc:
        raise NumberError(f"not a number: {text!r}") from exc
    return ParsedNumber(value, ambiguous)


def fits_storage(value: Decimal) -> bool:
    """True when `value` is finite and fits decimal128(DECIMAL_PRECISION, DECIMAL_SCALE) exactly."""
    if not value.is_finite():
        return False
    exp = value.as_tuple().exponent
    assert isinstance(exp, int)
    if exp < -DECIMAL_SCALE and value != value.quantize(Decimal(1).scaleb(-DECIMAL_SCALE)):
        return False
    return value == 0 or value.adjusted() < DECIMAL_PRECISION - DECIMAL_SCALE


def separator_evidence(text: str) -> str | None:
    """The decimal separator `text` proves on its own, if any ("1.234,56" -> ",")."""
    try:
        _, core, _ = _split_core(_clean(str(text)))
        dec, ambiguous = _decimal_sep_of(core, None)
    except NumberError:
        return None
    if ambiguous:
        return None
    if dec is None:
        seps = [c for c in core if c in ".,"]
        # "1.234.567": the repeated one groups, so the other would be the decimal.
        return {".": ",", ",": "."}[seps[0]] if seps else None
    return dec


def infer_decimal_separator(texts: Iterable[str], *, locale: str | None = None) -> str | None:
    """Majority decimal separator among unambiguous numbers, else the locale's, else None."""
    votes = Counter(e for e in map(separator_evidence, texts) if e is not None)
    if votes and (len(votes) == 1 or votes[","] != votes["."]):
        return votes.most_common(1)[0][0]
    if locale:
        try:
            symbol = get_decimal_symbol(locale)
        except (UnknownLocaleError, ValueError):
            return None
        return symbol if symbol in ".," else None
    return None
