"""Typed values from e-invoice XML elements: decimals, dates, text, addresses; errors name the element.

XML Schema decimals (`-12.50`, `3`, `.5`) are the only number form e-invoices allow: no thousands
separators, no exponent, no locale. Anything else is an `EInvoiceError` naming the element and its
line ("ram:GrandTotalAmount (line 57): '12,50' is not a decimal"), never a guess. Dates are UN/CEFACT
format 102 (YYYYMMDD); ISO `YYYY-MM-DD` (UBL's form) is read too, with the time zone xs:date allows
("2025-01-31Z", "2025-01-31+01:00") dropped: an invoice date is the calendar day written. An item is
described the same way in every syntax (`item_description`).

Not here: where values live in a syntax (`cii.py`, `ubl.py`), XML safety (`xml.py`).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from lxml import etree

from raxdoc.ingest.einvoice.record import EInvoiceError

_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# xs:date: the day, then an optional zone (Z, or +hh:mm / -hh:mm), which says nothing about the day.
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:\d{2})?")
# Countries that print the postcode after the city ("Springfield, IL 62704", "Reading RG1 4AB");
# elsewhere it comes first ("10115 Berlin", "75001 Paris").
_POSTCODE_AFTER_CITY = frozenset({"US", "GB", "CA", "AU", "IE", "NZ", "IN", "BR", "JP", "KR", "ZA"})


def describe(element: etree._Element) -> str:
    """`ram:LineTotalAmount (line 42)`: what an error message calls an element."""
    q = etree.QName(element)
    prefix = next((p for p, ns in (element.nsmap or {}).items() if ns == q.namespace and p), None)
    name = f"{prefix}:{q.localname}" if prefix else q.localname
    return f"{name} (line {element.sourceline})" if element.sourceline else name


def text_of(element: etree._Element | None) -> str | None:
    """The element's text, whitespace runs collapsed; None when absent or blank."""
    if element is None:
        return None
    value = " ".join("".join(element.itertext()).split())
    return value or None


def decimal_of(element: etree._Element | None, source: str) -> Decimal | None:
    """An xs:decimal as written (precision kept); None when absent or blank."""
    raw = text_of(element)
    if raw is None:
        return None
    if not _DECIMAL.fullmatch(raw):
        raise EInvoiceError(source, f"{describe(element)}: {raw!r} is not a decimal number")  # type: ignore[arg-type]
    return Decimal(raw)


def date_of(element: etree._Element | None, source: str) -> dt.date | None:
    """A date element (or its `DateTimeString` child's text) in format 102 or ISO; None when absent."""
    raw = text_of(element)
    if raw is None:
        return None
    fmt = element.get("format") if element is not None else None
    try:
        if fmt not in (None, "102"):
            raise ValueError(f"date format {fmt!r} is not 102 (YYYYMMDD)")
        if re.fullmatch(r"\d{8}", raw):
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        if fmt is None and (iso := _ISO_DATE.fullmatch(raw)):
            return dt.date.fromisoformat(iso.group(1))
        raise ValueError("not YYYYMMDD")
    except ValueError as exc:
        raise EInvoiceError(source, f"{describe(element)}: {raw!r} is not a date ({exc})") from None  # type: ignore[arg-type]


def item_description(name: str | None, description: str | None) -> str | None:
    """What an item is called, the one rule for every syntax: its name, then its description after one
    space when that adds something (a description that repeats the name, or is part of it, does not;
    one that starts with the name replaces it)."""
    if not name or not description:
        return name or description
    if description.casefold() in name.casefold():
        return name
    if description.casefold().startswith(name.casefold()):
        return description
    return f"{name} {description}"


def join_address(lines: list[str | None], postcode: str | None, city: str | None, subdivision: str | None,
                 country: str | None) -> str | None:
    """Street lines, then the city line as that country prints it, joined with ", "; the country code
    itself is left out (an invoice prints it only abroad, and the code is not the printed name)."""
    if country in _POSTCODE_AFTER_CITY:
        place = " ".join(p for p in (", ".join(p for p in (city, subdivision) if p), postcode) if p)
        parts = [*lines, place]
    else:
        parts = [*lines, " ".join(p for p in (postcode, city) if p), subdivision]
    return ", ".join(p for p in parts if p) or None
