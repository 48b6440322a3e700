"""Turn the model's decoded JSON into values the schema accepts, noting every doubt.

Walks the page value with the schema's classified fields (`model_fields_of`):
decimals through `numbers.parse_number` with one decimal-separator hint for the
whole page, dates through `dates.parse_date` in the day/month order weighed
from all the document's evidence (`date_order.py`), currency text to ISO
codes. A value that cannot be read is dropped (set to None) and reported as an
`Issue` with the raw text; an ambiguous read is kept and reported. Unknown keys
are reported and ignored. Arithmetic checks are not done here (`checks.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel

from raxdoc.postprocess.currency import CurrencyError, currency_code, currency_in_text
from raxdoc.postprocess.date_order import DateEvidence, DateOrder, date_evidence, resolve_date_order
from raxdoc.postprocess.dates import DateError, parse_date
from raxdoc.postprocess.numbers import NumberError, fits_storage, infer_decimal_separator, parse_number
from raxdoc.schemas.fields import FieldKind, model_fields_of
from raxdoc.schemas.records import Issue


@dataclass(frozen=True)
class PageHints:
    """Per-page reading conventions, inferred once from all the page's values."""

    decimal_sep: str | None  # "." or "," or None (unknown)
    date_order: str | None  # "DMY" / "MDY" or None; for numeric dates not in `date_orders`
    locale: str | None = None
    date_orders: tuple[tuple[str, str], ...] = ()  # (separator, order) proved by dates of that shape
    date_order_from: str | None = None  # the evidence that decided `date_order` (`date_order.KINDS`, "locale")
    date_evidence: DateEvidence = DateEvidence()  # the votes behind it (a document's: pooled over pages)

    def order_for(self, text: str) -> str | None:
        """The day/month order to read the printed date `text` with."""
        return DateOrder(self.date_order, self.date_orders).for_text(text)


# Top-level fields naming the vendor's country (tax id, bank account): evidence of its date order.
_ISSUER_FIELDS = ("vendor_tax_id", "iban", "bic")
_NOT_BARE = re.compile(r"[^\d\s.,'\u2019\u202f%()+\-]")


@dataclass
class _Walk:
    hints: PageHints
    issues: list[Issue] = field(default_factory=list)
    currencies: set[str] = field(default_factory=set)  # currencies written next to amounts
    unknown: set[str] = field(default_factory=set)  # unknown keys already reported

    def note(self, kind: str, path: str, message: str) -> None:
        self.issues.append(Issue(kind, path, message))


def _collect(value: object, kinds: Mapping[str, FieldKind], want: str, out: list[str]) -> None:
    """All string values of fields of kind `want` (recursing into objects and lists)."""
    if not isinstance(value, dict):
        return
    for name, kind in kinds.items():
        v = value.get(name)
        if kind.kind == "list" and kind.item is not None and isinstance(v, list):
            for element in v:
                if kind.item.kind == want and isinstance(element, str):
                    out.append(element)
                elif kind.item.model is not None:
                    _collect(element, model_fields_of(kind.item.model), want, out)
        elif kind.kind == "object" and kind.model is not None:
            _collect(v, model_fields_of(kind.model), want, out)
        elif kind.kind == want and isinstance(v, str):
            out.append(v)


def _strings(value: object, model: type[BaseModel], want: str) -> list[str]:
    out: list[str] = []
    _collect(value, model_fields_of(model), want, out)
    return out


def _date_evidence(value: object, model: type[BaseModel], locale: str | None,
                   decimal_sep: str | None) -> DateEvidence:
    """Everything on one page that tells day/month order (`date_order.py` weighs it)."""
    numbers = _strings(value, model, "decimal")
    # Only text with a symbol or letters can name a currency; skipping bare numbers saves price-parser's time.
    currencies = [c for t in numbers if _NOT_BARE.search(t) and (c := currency_in_text(t, locale=locale))]
    for text in _strings(value, model, "currency"):
        try:
            currencies.append(currency_code(text, locale=locale))
        except CurrencyError:
            pass  # unreadable currency text is reported when the field is normalised
    issuer = [v for name in _ISSUER_FIELDS if isinstance(value, dict) and isinstance(v := value.get(name), str)]
    language = locale.replace("-", "_").split("_")[0].lower() if locale else None
    return date_evidence(_strings(value, model, "date"), decimal_sep=decimal_sep, numbers=numbers,
                         currencies=currencies, issuer_ids=issuer, language=language)


def page_hints(value: object, model: type[BaseModel], *, locale: str | None = None,
               fallback: PageHints | None = None) -> PageHints:
    """Decimal separator and date order for one page's decoded value.

    Evidence on the page wins; then `fallback` (the whole document's evidence,
    see `document_hints`); then the locale's conventions. For dates, a page's own
    evidence wins only over the document's of the same kind (`date_order.py`).
    """
    decimal_sep = infer_decimal_separator(_strings(value, model, "decimal"))
    own = _date_evidence(value, model, locale, decimal_sep)
    pooled = fallback.date_evidence if fallback is not None and fallback.date_evidence.votes else None
    dates = resolve_date_order(own, pooled)
    date_order, source = dates.order, dates.source
    if fallback is not None:
        decimal_sep = decimal_sep or fallback.decimal_sep
        if date_order is None and fallback.date_order:  # hints given without their evidence
            date_order, source = fallback.date_order, fallback.date_order_from or "document"
    if date_order is None:
        date_order = resolve_date_order(DateEvidence(), locale=locale).order
        source = "locale" if date_order else None
    return PageHints(decimal_sep or infer_decimal_separator([], locale=locale), date_order, locale,
                     dates.by_separator, source, own)


def document_hints(values: list[object], model: type[BaseModel], *, locale: str | None = None) -> PageHints:
    """Evidence pooled over every page of a document.

    The locale is the last resort, so it settles nothing here; it only names the
    currency of a shared symbol ("$" in en_CA is CAD).
    """
    numbers = [t for v in values for t in _strings(v, model, "decimal")]
    decimal_sep = infer_decimal_separator(numbers)
    # The number style votes once, from the whole document's separator.
    evidence = sum((_date_evidence(v, model, locale, None) for v in values), date_evidence(decimal_sep=decimal_sep))
    dates = resolve_date_order(evidence)
    return PageHints(decimal_sep, dates.order, None, dates.by_separator, dates.source, evidence)


def _decimal(v: object, path: str, w: _Walk) -> Decimal | None:
    if isinstance(v, bool):
        w.note("field_dropped", path, f"boolean {v!r} where a number was expected")
        return None
    if isinstance(v, int):
        v = Decimal(v)
    if isinstance(v, float):
        v = Decimal(repr(v))
    if isinstance(v, Decimal):
        value = v
    elif isinstance(v, str):
        try:
            parsed = parse_number(v, decimal_sep=w.hints.decimal_sep)
        except NumberError as exc:
            w.note("field_dropped", path, str(exc))
            return None
        if parsed.ambiguous:
            w.note("ambiguous_number", path, f"{v!r} read as {parsed.value} (no decimal-separator evidence)")
        code = currency_in_text(v, locale=w.hints.locale)
        if code:
            w.currencies.add(code)
        value = parsed.value
    else:
        w.note("field_dropped", path, f"{type(v).__name__} where a number was expected")
        return None
    if not fits_storage(value):
        w.note("field_dropped", path, f"{value} does not fit decimal(18, 6)")
        return None
    return value


def _scalar(kind: FieldKind, v: object, path: str, w: _Walk) -> object:
    if v is None:
        return None
    if isinstance(v, str) and not v.strip() and kind.kind != "string":
        return None
    if kind.kind == "decimal":
        return _decimal(v, path, w)
    if kind.kind == "date":
        try:
            parsed = parse_date(str(v), order=w.hints.order_for(str(v)), locale=w.hints.locale)
        except DateError as exc:
            w.note("field_dropped", path, str(exc))
            return None
        if parsed.ambiguous:
            w.note("ambiguous_date", path, f"{v!r} read as {parsed.value} (day/month order unknown)")
        return parsed.value
    if kind.kind == "currency":
        try:
            return currency_code(str(v), locale=w.hints.locale)
        except CurrencyError as exc:
            found = currency_in_text(str(v), locale=w.hints.locale)  # "EUR (€)", "in EUR"
            if found is None:
                w.note("field_dropped", path, str(exc))
            return found
    if kind.kind == "string":
        if isinstance(v, (dict, list)):
            w.note("field_dropped", path, f"{type(v).__name__} where text was expected")
            return None
        text = str(v).strip()  # a number written for an id ("invoice_number": 12345) is kept as text
        return text or None
    if kind.kind == "integer" and isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63:
        w.note("field_dropped", path, f"{v} does not fit int64")
        return None
    return v  # integer / number / boolean: pydantic validates


def _object(value: object, model: type[BaseModel], path: str, w: _Walk) -> dict | None:
    if not isinstance(value, dict):
        w.note("field_dropped", path, f"{type(value).__name__} where an object was expected")
        return None
    kinds = model_fields_of(model)
    for key in value:
        if key not in kinds or kinds[key].internal:
            # Once per key pattern: a stray key on 200 items is one issue, not 200.
            pattern = re.sub(r"\[\d+\]", "[*]", f"{path}.{key}".lstrip("."))
            if pattern not in w.unknown:
                w.unknown.add(pattern)
                w.note("unknown_field", pattern, f"ignored key {key!r}")
    out: dict = {}
    for name, kind in kinds.items():
        if kind.internal or name not in value:
            continue
        out[name] = _value(kind, value[name], f"{path}.{name}".lstrip("."), w)
    return out


def _value(kind: FieldKind, v: object, path: str, w: _Walk) -> object:
    if kind.kind == "object":
        assert kind.model is not None
        return None if v is None else _object(v, kind.model, path, w)
    if kind.kind == "list":
        assert kind.item is not None
        if v is None:
            return [] if not kind.nullable else None
        if not isinstance(v, list):
            w.note("field_dropped", path, f"{type(v).__name__} where a list was expected")
            return [] if not kind.nullable else None
        out = []
        for i, element in enumerate(v):
            item = _value(kind.item, element, f"{path}[{i}]", w)
            if item is None and kind.item.kind == "object":
                continue  # dropped element, already noted
            if kind.item.kind == "object" and all(x is None or x == [] for x in item.values()):
                w.note("empty_item", f"{path}[{i}]", "object with no values dropped")
                continue
            out.append(item)
        return out
    return _scalar(kind, v, path, w)


def normalise_page(value: dict, model: type[BaseModel], hints: PageHints) -> tuple[dict, list[Issue], set[str]]:
    """(clean dict for model_validate, issues, currencies seen next to amounts)."""
    w = _Walk(hints)
    out = _object(value, model, "", w) or {}
    return out, w.issues, w.currencies
