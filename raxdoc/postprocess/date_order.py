"""Which way round a document writes its numeric dates: day/month order from all its evidence.

"8/5/25" is 8 May or August 5 depending on who wrote it; the date itself cannot
say, the rest of the document often can. Evidence, strongest first; the first
kind that decides wins, and within a kind the majority (a tie decides nothing):

1. `numeric`: a numeric date with a component > 12 ("13/03/2024" DMY,
   "03/13/2024" MDY) fixes the order of the document's numeric dates written
   with the same separator.
2. `named`: the order of month-name dates ("Dec 26, 2025" MDY; "26 Dec 2025",
   "26. Dezember 2025" DMY), counted together with numeric proofs written with
   another separator: both show the writer's habit rather than this shape's.
3. `style`: day-first ways of writing numbers and dates: a decimal comma
   ("1.234,56", "1 234,56"), apostrophe grouping ("1'234.56", Swiss) and dotted
   numeric dates ("05.08.2025"). "1,234.56" says nothing: en_GB writes it too.
4. `issuer`: the country of the vendor's tax id or bank account (a US EIN
   "12-3456789" is month-first; "GB123456789", "CHE-123.456.789", an IBAN or a
   BIC name a country whose short date pattern, from babel, decides).
5. `currency`: USD and PHP are month-first countries' money; CAD (both orders
   are in use in Canada) and the money of year-first countries (CNY, JPY, KRW,
   TWD, HUF, ...) say nothing; every other currency (EUR, GBP, CHF, AUD, INR,
   ...) is day-first.
6. `locale`: the locale argument's short date pattern, last.
ISO dates ("2025-08-05") and other year-first dates say nothing about the others.

Two choices differ from a plain reading of issue 12. Style ranks above currency:
they disagree only when day-first writing meets a month-first currency
("1.234,56 USD", "05.08.2025" on a USD invoice), which is a European firm billing
in dollars, and it writes day-first. Issuer evidence is added between them: the
currency is the deal's, the tax id and bank account are the writer's (a London
firm billing in USD writes day-first).

A page's own evidence beats the document's pooled evidence of the same kind,
never a stronger kind found elsewhere in the document. With no evidence at all
there is no order: `parse_date` reads day-first and flags the date ambiguous.

Not here: reading a date (`dates.py`); finding the values on a page (`normalise.py`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from babel import Locale
from babel.core import UnknownLocaleError

from raxdoc.postprocess.dates import DEFAULT_LANGUAGES, locale_date_order, numeric_separator, order_evidence

KINDS = ("numeric", "named", "style", "issuer", "currency")  # strongest first; the locale comes after
MONTH_FIRST_CURRENCIES = frozenset({"USD", "PHP"})
# Canada writes both orders; these countries write year first, so their money says nothing.
SILENT_CURRENCIES = frozenset({"CAD", "CNY", "JPY", "KRW", "KPW", "TWD", "HUF", "MNT", "IRR"})

_WORD = r"[^\W\d_]{3,}\.?"
_ORDINAL = r"(?:st|nd|rd|th|er|\.)?"
_WEEKDAY = r"(?:[^\W\d_]+\.?,?\s+)?"  # "Friday, Dec 26, 2025" / "le 5 mars 2024"
_NAMED_MDY = re.compile(rf"^{_WEEKDAY}({_WORD})[\s-]*\d{{1,2}}{_ORDINAL}(?:,\s*|\s+|-)'?\d{{2,4}}$")
_NAMED_DMY = re.compile(rf"^{_WEEKDAY}\d{{1,2}}{_ORDINAL}[\s-]*(?:de\s+)?({_WORD})(?:,\s*|\s+|-)(?:de\s+)?'?\d{{2,4}}$")
_EIN = re.compile(r"^(?:EIN|TIN|Tax\s*ID)?[\s:#]*\d{2}-\d{7}$", re.IGNORECASE)
_VAT = re.compile(r"^([A-Z]{2})[A-Z]?[\s.-]?\d[\d\s.A-Z-]{1,16}$")  # "DE123456789", "ATU1234567", "CHE-123.456.789"
# Prefixes of European VAT ids (EU, with Greece as EL; XI Northern Ireland; GB, CH, NO): other
# letter-digit ids ("GST 123...", "ABN 12 ...") are not read as a country.
_VAT_COUNTRIES = frozenset("AT BE BG CY CZ DE DK EE EL ES FI FR GB HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK "
                           "XI CH NO".split())
_IBAN = re.compile(r"^([A-Z]{2})\d{2}(?:\s?[A-Z0-9]){8,30}$")
_BIC = re.compile(r"^[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_VAT_PREFIX = {"EL": "GR", "XI": "GB"}
_APOSTROPHE_GROUP = re.compile(r"\d['\u2019]\d{3}")  # "1'234.50": Swiss grouping


@dataclass(frozen=True)
class DateEvidence:
    """Day/month votes found in a page's (or a whole document's) values; `+` pools them."""

    votes: tuple[tuple[str, str, str], ...] = ()  # (kind, separator of a numeric proof or "", "DMY"/"MDY")

    def __add__(self, other: DateEvidence) -> DateEvidence:
        return DateEvidence(self.votes + other.votes)


@dataclass(frozen=True)
class DateOrder:
    """A resolved day/month order: one for most dates, one per separator where its own dates prove it."""

    order: str | None  # "DMY" / "MDY" for numeric dates whose separator proves nothing itself
    by_separator: tuple[tuple[str, str], ...] = ()  # (separator, order) fixed by a proof in that shape
    source: str | None = None  # the kind that decided `order` (one of KINDS, "locale"), None: undecided

    def for_text(self, text: str) -> str | None:
        """The order to read `text` with."""
        return dict(self.by_separator).get(numeric_separator(text) or "", self.order)


@functools.lru_cache(maxsize=8)
def _month_words(extra_language: str | None) -> frozenset[str]:
    words: set[str] = set()
    for language in (*DEFAULT_LANGUAGES, *([extra_language] if extra_language else [])):
        try:
            months = Locale.parse(language).months
        except (UnknownLocaleError, ValueError):
            continue
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                words.update(m.casefold().rstrip(".") for m in months.get(context, {}).get(width, {}).values())
    return frozenset(words)


def _is_month(word: str, language: str | None) -> bool:
    word = word.casefold().rstrip(".")
    names = _month_words(language)
    # "Sept", "Dez": a 3+ letter abbreviation of a full name counts too.
    return word in names or any(len(n) > len(word) and n.startswith(word) for n in names)


def named_order(text: str, *, language: str | None = None) -> str | None:
    """"MDY" / "DMY" for a date written with its month's name ("Dec 26, 2025" -> "MDY")."""
    raw = " ".join(str(text).split())
    for pattern, order in ((_NAMED_MDY, "MDY"), (_NAMED_DMY, "DMY")):
        m = pattern.match(raw)
        if m and _is_month(m.group(1), language):
            return order
    return None


@functools.lru_cache(maxsize=256)
def _country_order(country: str) -> str | None:
    if country not in Locale("en").territories or country in ("ZZ", "EU", "UN"):
        return None  # babel would answer en_US for a code it does not know
    try:
        order = locale_date_order(str(Locale.parse(f"und_{country}")))
    except (UnknownLocaleError, ValueError):
        return None
    return order if order in ("DMY", "MDY") else None


def issuer_order(text: str) -> str | None:
    """Date order of the country a vendor tax id, IBAN or BIC belongs to ("12-3456789" -> "MDY")."""
    raw = str(text).strip()
    if _EIN.match(raw):
        return "MDY"
    compact = raw.upper()
    for pattern in (_IBAN, _BIC, _VAT):
        m = pattern.match(compact)
        if m and (pattern is not _VAT or m.group(1) in _VAT_COUNTRIES):
            return _country_order(_VAT_PREFIX.get(m.group(1), m.group(1)))
    return None


def currency_order(code: str) -> str | None:
    """Date order a currency suggests (see the module docstring); None: it says nothing."""
    code = str(code).upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or code in SILENT_CURRENCIES:
        return None
    return "MDY" if code in MONTH_FIRST_CURRENCIES else "DMY"


def date_evidence(dates: Iterable[str] = (), *, decimal_sep: str | None = None, numbers: Iterable[str] = (),
                  currencies: Iterable[str] = (), issuer_ids: Iterable[str] = (),
                  language: str | None = None) -> DateEvidence:
    """The votes in one page's (or document's) dates, decimal separator (as `numbers.py` infers it),
    printed numbers (for their grouping), ISO currency codes and vendor ids."""
    votes: list[tuple[str, str, str]] = []
    for text in dates:
        proof, sep = order_evidence(text), numeric_separator(text)
        if proof in ("DMY", "MDY"):
            votes.append(("numeric", sep or "", proof))
        if sep == "." and proof != "YMD":
            votes.append(("style", "", "DMY"))
        if sep is None and (named := named_order(text, language=language)):
            votes.append(("named", "", named))
    if decimal_sep == "," or any(_APOSTROPHE_GROUP.search(t) for t in numbers):
        votes.append(("style", "", "DMY"))
    votes += [("issuer", "", o) for o in map(issuer_order, issuer_ids) if o]
    votes += [("currency", "", o) for o in map(currency_order, currencies) if o]
    return DateEvidence(tuple(votes))


def _majority(votes: list[str]) -> str | None:
    counts = Counter(votes).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def _decide(own: DateEvidence, pooled: DateEvidence | None, pick) -> str | None:
    for evidence in (own, pooled):
        if evidence is not None and (order := _majority([o for k, s, o in evidence.votes if pick(k, s)])):
            return order
    return None


def resolve_date_order(own: DateEvidence, pooled: DateEvidence | None = None, *,
                       locale: str | None = None) -> DateOrder:
    """Day/month order for a page from its own evidence, then the document's (`pooled`), kind by kind."""
    seps = sorted({s for e in (own, pooled) if e is not None for k, s, _ in e.votes if k == "numeric"})
    by_sep = tuple((sep, o) for sep in seps
                   if (o := _decide(own, pooled, lambda k, s, sep=sep: k == "numeric" and s == sep)))
    for kind in KINDS[1:]:
        # Numeric proofs count as habit (`named`) for the separators they do not fix themselves.
        order = _decide(own, pooled, lambda k, s, kind=kind: k == kind or (kind == "named" and k == "numeric"))
        if order:
            return DateOrder(order, by_sep, kind)
    order = locale_date_order(locale)
    if order in ("DMY", "MDY"):
        return DateOrder(order, by_sep, "locale")
    return DateOrder(None, by_sep, None)


def infer_date_order(texts: Iterable[str], *, locale: str | None = None) -> str | None:
    """Day-first or month-first for a document's non-ISO dates, from the dates alone, then the locale."""
    return resolve_date_order(date_evidence(texts), locale=locale).order
