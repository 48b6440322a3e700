"""Currency text ("€", "EUR", "euros", "US$", "Fr.", "zł") to ISO 4217 codes.

Tables come from babel's CLDR data: codes, symbols in a set of common locales
and currency names (singular and plural) in the main invoice languages. A
symbol shared by several currencies ("$", "kr", "¥") is settled by the locale's
territory when given ("$" in en_CA is CAD), else by a short list of defaults
("$" -> USD); a shared symbol with no default is reported, not guessed.
`currency_in_text` uses price-parser to find the currency part of an amount
string ("1.234,56 EUR"). Exchange rates and amounts are out of scope.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import defaultdict

from babel import Locale
from babel.core import UnknownLocaleError
from babel.numbers import get_currency_name, get_currency_symbol, get_territory_currencies, list_currencies
from price_parser import Price

_SYMBOL_LOCALES = (
    "en_US", "en_GB", "en_CA", "en_AU", "en_IN", "de_DE", "de_CH", "fr_FR", "fr_CH", "it_IT",
    "es_ES", "es_MX", "pt_BR", "nl_NL", "pl_PL", "cs_CZ", "hu_HU", "sv_SE", "nb_NO", "da_DK",
    "ru_RU", "tr_TR", "ja_JP", "zh_CN", "ko_KR", "he_IL", "th_TH", "uk_UA", "ro_RO",
)
_NAME_LOCALES = ("en", "de", "fr", "it", "es", "pt", "nl", "pl", "cs", "sv", "da", "nb")
# Where a symbol is shared and there is no locale to settle it.
_DEFAULTS = {"$": "USD", "£": "GBP", "¥": "JPY", "￥": "JPY", "₩": "KRW", "fr.": "CHF",
             "r$": "BRL", "us$": "USD", "zł": "PLN", "kč": "CZK", "ft": "HUF",
             "dollar": "USD", "dollars": "USD", "rs": "INR", "rs.": "INR"}


# Usages CLDR lacks (as symbols) in our locales.
_EXTRA = {
    "rs": {"INR", "PKR", "LKR", "NPR", "SCR", "MUR"}, "rs.": {"INR", "PKR", "LKR", "NPR", "SCR", "MUR"},
    "fr.": {"CHF"}, "sfr.": {"CHF"}, "sfr": {"CHF"}, "dollar": {"USD", "CAD", "AUD", "NZD", "SGD", "HKD"},
    "dollars": {"USD", "CAD", "AUD", "NZD", "SGD", "HKD"}, "zloty": {"PLN"}, "złoty": {"PLN"},
}


class CurrencyError(ValueError):
    """Text that names no currency, or one we cannot settle."""


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().casefold()
    return " ".join(text.split())


@functools.cache
def _tables() -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    """(ISO codes, lookup key -> candidate codes) built once from CLDR."""
    codes = frozenset(list_currencies())
    lookup: dict[str, set[str]] = defaultdict(set)
    for code in codes:
        for loc in _SYMBOL_LOCALES:
            lookup[_key(get_currency_symbol(code, loc))].add(code)
        for loc in _NAME_LOCALES:
            for count in (None, 1, 2):
                name = get_currency_name(code, count=count, locale=loc)
                if name and name != code:
                    lookup[_key(name)].add(code)
    for key, extra in _EXTRA.items():
        lookup[key].update(extra)
    return codes, {k: frozenset(v) for k, v in lookup.items() if k}


def _territory_codes(locale: str | None) -> set[str]:
    if not locale:
        return set()
    try:
        territory = Locale.parse(locale.replace("-", "_")).territory
    except (UnknownLocaleError, ValueError, TypeError):
        return set()
    return set(get_territory_currencies(territory)) if territory else set()


def currency_code(text: str, *, locale: str | None = None) -> str:
    """The ISO 4217 code for `text`; CurrencyError when unknown or ambiguous."""
    codes, lookup = _tables()
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if raw.upper() in codes and raw.isalpha() and len(raw) == 3:
        return raw.upper()
    key = _key(raw)
    candidates = lookup.get(key) or lookup.get(key.rstrip("."))
    if not candidates:
        raise CurrencyError(f"unknown currency {text!r}")
    if len(candidates) == 1:
        return next(iter(candidates))
    local = candidates & _territory_codes(locale)
    if len(local) == 1:
        return next(iter(local))
    default = _DEFAULTS.get(key)
    if default in candidates:
        return default
    raise CurrencyError(f"ambiguous currency {text!r}: one of {sorted(candidates)}")


def currency_in_text(text: str, *, locale: str | None = None) -> str | None:
    """The ISO code of a currency written next to an amount ("€ 1.234,56"), if any."""
    found = Price.fromstring(str(text)).currency
    if not found:
        return None
    try:
        return currency_code(found, locale=locale)
    except CurrencyError:
        return None
