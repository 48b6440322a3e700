"""What counts as equal when eval compares a predicted value with a labelled one.

Every value, predicted or true, is turned into a comparison key once (`predicted_key`,
`truth_key`); two values are equal exactly when their keys are `==`, and a key of None means
"no value". By field kind (`raxdoc.schemas.fields.FieldKind`):

- decimal, number: numerically, exactly — `Decimal("1234.50")`, `1234.5` and the Parquet
  `decimal128(18, 6)` 1234.500000 are all equal; 1234.51 is not (no tolerance: a cent off is a
  misread). JSON numbers are read as `Decimal`, never through a binary float. A label string
  that is not a plain number is read as printed by postprocess's `parse_number` (one rule for
  the pages and the labels): "1.234,56 €", "$1,234.56", "1 234,56", "(12.00)". "1,234"-shaped
  strings are settled by the label set's decimal separator (`Hints`: the majority of its
  unambiguous numbers, or a `;`-delimited CSV's comma), else they are an error, never a guess.
- integer: numerically (`3`, `3.0` and `"3"` in the labels are all 3).
- date: the same calendar day. Labels are best ISO `YYYY-MM-DD`; other strings go to
  postprocess's `parse_date` ("08.05.2025", "8 May 2025", "May 8, 2025", "2025-05-08T00:00"),
  with the label set's day/month order (`Hints`) for "05/08/2025"; undecided: an error.
- string, currency: after Unicode NFKC, casefold and collapsing every run of whitespace to one
  space (stripped) — "ACME  GmbH\\n" equals "acme gmbh", "ｆｉ" equals "fi"; nothing fuzzier, so
  a cut description is wrong. A string that is empty after that counts as no value.
- boolean: exactly.
- object (a nested model that is not a list of items): key by key with the rules above.
- list of scalars: as a multiset (order ignored). Lists of models are not compared here: they
  are matched item by item (`match.py`).

Labels that cannot be read as their field's kind raise `EvalError` (a usage error), naming the
file and field; a predicted value always comes from raxdoc's typed Parquet, so it is trusted.
Not here: reading files (`truth.py`, `output.py`) or counting (`score.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from raxdoc.schemas.fields import FieldKind, model_fields_of


class EvalError(ValueError):
    """A usage error of eval: a missing folder, no documents, an unreadable or ill-typed label."""


class BadLabel(ValueError):
    """A label value that does not fit its field's kind; `truth.py` adds the file and field."""


@dataclass(frozen=True)
class Hints:
    """A label set's conventions for printed numbers and dates (`labels.py` infers them)."""

    decimal_sep: str | None = None  # "." or ","; settles "1.234" / "1,234" in label strings
    date_order: str | None = None  # "DMY" or "MDY"; settles "05/08/2025"


PLAIN = Hints()


def normalise_text(text: str) -> str | None:
    """NFKC, casefold, whitespace collapsed; None when nothing is left."""
    out = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return out or None


def predicted_key(value: Any, kind: FieldKind) -> Any:
    """Comparison key of a value read from raxdoc's Parquet output."""
    return _key(value, kind, strict=False)


def truth_key(value: Any, kind: FieldKind, hints: Hints = PLAIN) -> Any:
    """Comparison key of a labelled value (BadLabel when it does not fit `kind`)."""
    return _key(value, kind, strict=True, hints=hints)


def _key(value: Any, kind: FieldKind, *, strict: bool, hints: Hints = PLAIN) -> Any:
    if value is None or (isinstance(value, float) and value != value):  # NaN: pandas' missing value
        return None
    if isinstance(value, str) and not value.strip():
        return None  # an empty cell or "" is no value, whatever the field's kind
    if kind.kind in ("decimal", "number"):
        return _decimal(value, hints.decimal_sep)
    if kind.kind == "integer":
        number = _decimal(value, hints.decimal_sep)
        if number != number.to_integral_value():
            raise BadLabel(f"{value!r} is not a whole number")
        return int(number)
    if kind.kind == "date":
        return _date(value, hints.date_order)
    if kind.kind in ("string", "currency"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a code column a spreadsheet stored as numbers: 1042.0 is "1042"
        # A number is accepted for a code ("invoice_number": 1042); a list or a flag is not.
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise BadLabel(f"{value!r} is not a string")
        return normalise_text(str(value))
    if kind.kind == "boolean":
        if not isinstance(value, bool):
            raise BadLabel(f"{value!r} is not true or false")
        return value
    if kind.kind == "object":
        assert kind.model is not None
        if not isinstance(value, dict):
            raise BadLabel(f"{value!r} is not an object")
        keys = object_keys(value, kind.model, strict=strict, hints=hints)
        return tuple(sorted(keys.items())) if any(v is not None for v in keys.values()) else None
    if kind.kind == "list":
        assert kind.item is not None
        if not isinstance(value, list):
            raise BadLabel(f"{value!r} is not a list")
        keys = [_key(v, kind.item, strict=strict, hints=hints) for v in value]
        # Sorted by repr: keys of one field share a type, but None may sit among them.
        return tuple(sorted((k for k in keys if k is not None), key=repr)) or None
    raise BadLabel(f"field kind {kind.kind!r} cannot be compared")


@dataclass(frozen=True)
class DocKeys:
    """One document's comparison keys: scalar-like header fields, and each list of items."""

    header: dict[str, Any]  # field -> key (None: no value)
    lists: dict[str, list[dict[str, Any]]]  # list field (line_items, tax_breakdown) -> item keys


def is_item_list(kind: FieldKind) -> bool:
    """A list of models (line items, tax rows): matched item to item rather than compared whole."""
    return kind.kind == "list" and kind.item is not None and kind.item.kind == "object"


@functools.cache
def scored_fields(model) -> Mapping[str, FieldKind]:
    """The fields eval scores: all but raxdoc's internal bookkeeping (page_index). Cached: it is
    asked once per item."""
    return MappingProxyType({name: kind for name, kind in model_fields_of(model).items() if not kind.internal})


def document_keys(value: dict, schema, *, strict: bool, hints: Hints = PLAIN) -> DocKeys:
    """Keys of a whole document: a label (strict) or a `documents` row (extra columns ignored)."""
    fields = scored_fields(schema)
    keys = object_keys(value, schema, strict=strict, hints=hints,
                       only={n for n, k in fields.items() if not is_item_list(k)})
    lists = {}
    for name, kind in fields.items():
        if not is_item_list(kind):
            continue
        items = value.get(name) or []
        if not isinstance(items, list):
            raise BadLabel(f"field {name!r}: {items!r} is not a list")
        rows = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise BadLabel(f"{name}[{n}]: {item!r} is not an object")
            try:
                row = object_keys(item, kind.item.model, strict=strict, hints=hints)
            except BadLabel as exc:
                raise BadLabel(f"{name}[{n}]: {exc}") from None
            if any(v is not None for v in row.values()):  # an empty item says nothing either way
                rows.append(row)
        lists[name] = rows
    return DocKeys(keys, lists)


def object_keys(value: dict, model, *, strict: bool, only: set[str] | None = None,
                hints: Hints = PLAIN) -> dict[str, Any]:
    """Keys of the scored fields of one object (`only` those named); unknown names are errors in
    labels (a typo would otherwise be scored as a missing value) and ignored in outputs."""
    fields = scored_fields(model)
    if strict:
        unknown = sorted(value.keys() - model_fields_of(model).keys())
        if unknown:
            raise BadLabel(f"unknown field(s) {unknown}; {model.__name__} has {list(fields)}")
    out = {}
    for name, kind in fields.items():
        if only is not None and name not in only:
            continue
        found = value.get(name)
        if found is None:  # most fields of most items: skip the dispatch (10k documents stay quick)
            out[name] = None
            continue
        try:
            out[name] = _key(found, kind, strict=strict, hints=hints)
        except BadLabel as exc:
            raise BadLabel(f"field {name!r}: {exc}") from None
    return out


def _decimal(value: Any, decimal_sep: str | None = None) -> Decimal:
    if type(value) is Decimal and value.is_finite():
        return value  # Parquet's decimals, JSON's parse_float
    if isinstance(value, bool):
        raise BadLabel(f"{value!r} is not a number")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that reads back as this float: 0.1, not 0.1000000000000000055
    number = None
    if isinstance(value, str) and decimal_sep == ",":  # with a decimal comma, "1.234" is 1234
        comma = _COMMA_DECIMAL.match(value)
        if comma:  # the common shapes, read without the general parser: "12", "-12,50"
            number = Decimal(f"{comma.group(1)}.{comma.group(2) or 0}")
    else:
        try:
            number = Decimal(value.strip() if isinstance(value, str) else value)
        except (InvalidOperation, TypeError, ValueError):
            pass
    if number is None and isinstance(value, str):
        number = _printed_number(value.strip(), decimal_sep)
    if number is None:
        raise BadLabel(f"{value!r} is not a decimal number")
    if not number.is_finite():
        raise BadLabel(f"{value!r} is not a finite number")
    return number


_COMMA_DECIMAL = re.compile(r"^\s*([+-]?\d+)(?:,(\d+))?\s*$")


@functools.lru_cache(maxsize=1 << 16)  # label sets repeat their values (quantities, prices): parse each once
def _printed_number(text: str, decimal_sep: str | None) -> Decimal:
    # Imported here: postprocess imports this module, and plain labels never need it.
    from raxdoc.postprocess.numbers import NumberError, parse_number

    try:
        parsed = parse_number(text, decimal_sep=decimal_sep)
    except NumberError:
        raise BadLabel(f"{text!r} is not a decimal number") from None
    if parsed.ambiguous:
        raise BadLabel(f"{text!r} is ambiguous (a thousands or a decimal separator?): write it without "
                       f"grouping, or use one convention in the whole label set")
    return parsed.value


def _date(value: Any, order: str | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
        from raxdoc.postprocess.dates import DateError, numeric_separator, parse_date  # as in _printed_number

        if order is None and numeric_separator(value) == ".":
            order = "DMY"  # dotted numeric dates are day-first wherever they are written (de, fr, ru, ...)
        try:
            parsed = parse_date(value, order=order)
        except DateError:
            pass
        else:
            if parsed.ambiguous:
                raise BadLabel(f"{value!r} is ambiguous (day or month first?): write dates as YYYY-MM-DD, or "
                               f"include one with a day over 12 so the order is known")
            return parsed.value
    raise BadLabel(f"{value!r} is not a date (write YYYY-MM-DD)")
