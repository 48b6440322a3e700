"""`parse_page_output`: one page's model text -> a validated record or a typed failure.

One attempt, no retries (a retry policy lives one level up): extract the JSON
(`extract.py`), check its shape, normalise values (`normalise.py`) and validate
with the schema. A field pydantic still rejects is dropped and reported, so one
bad value does not lose the page; a page whose shape is wrong, or that misses a
required field of a custom schema, is a `schema_mismatch` failure. Any string
gives a PageResult; nothing here raises on model output.

The two halves are public so the JSON is decoded once per page:
`validate_page` takes what `extract_json` returned, and `page_object` is the
one rule for reading a bare item array as the page (`document.py` pools its
hints from the same objects). `parse_page_output` is both halves in one call.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from raxdoc.postprocess.extract import Extracted, extract_json
from raxdoc.postprocess.normalise import PageHints, normalise_page, page_hints
from raxdoc.schemas.fields import items_field, model_fields_of
from raxdoc.schemas.invoice import Invoice
from raxdoc.schemas.records import SCHEMA_MISMATCH, Issue, PageResult, ParseFailure

_DROP = object()  # marks a list element removed after validation errors
_MAX_DROP_ROUNDS = 8


def _loc_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def _drop(clean: dict, loc: tuple) -> bool:
    """Remove the value at `loc`; False when there is nothing to remove (missing field)."""
    node: object = clean
    for part in loc[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    last = loc[-1] if loc else None
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = _DROP
        return True
    return False


def _sweep(value: object) -> object:
    if isinstance(value, dict):
        return {k: _sweep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sweep(v) for v in value if v is not _DROP]
    return value


def _fail(schema: type[BaseModel], message: str, text: str, page_index: int | None) -> PageResult:
    return PageResult(schema, None, ParseFailure(SCHEMA_MISMATCH, message, text), text, (), page_index)


def page_object(value: object, schema: type[BaseModel]) -> tuple[object, bool]:
    """(the decoded value as a page object, whether it was wrapped): a bare array of objects is the item list."""
    if isinstance(value, list) and all(isinstance(e, dict) for e in value):
        return {items_field(schema): value}, True
    return value, False


def parse_page_output(text: str, schema: type[BaseModel] = Invoice, *, constrained: bool,
                      page_index: int | None = None, locale: str | None = None,
                      hints: PageHints | None = None) -> PageResult:
    """Parse one page's model output against `schema`.

    `locale` ("de_DE") and `hints` (the document's pooled evidence) settle
    number and date shapes the page itself leaves ambiguous.
    """
    return validate_page(extract_json(text, constrained=constrained), text, schema, page_index=page_index,
                         locale=locale, hints=hints)


def validate_page(got: Extracted | ParseFailure, text: str, schema: type[BaseModel] = Invoice, *,
                  page_index: int | None = None, locale: str | None = None,
                  hints: PageHints | None = None) -> PageResult:
    """The second half of `parse_page_output`: `got = extract_json(text, ...)` -> a PageResult."""
    text = text if isinstance(text, str) else str(text)
    if isinstance(got, ParseFailure):
        return PageResult(schema, None, got, text, (), page_index)
    issues: list[Issue] = []
    if got.repaired:
        issues.append(Issue("repaired_json", "", "output was not valid JSON; repaired with json-repair"))
    value, wrapped = page_object(got.value, schema)
    if wrapped:  # the model wrote only the items array
        issues.append(Issue("wrapped_list", items_field(schema), "top-level array taken as the item list"))
    if not isinstance(value, dict):
        return _fail(schema, f"expected a JSON object, got {type(value).__name__}", text, page_index)
    fields = model_fields_of(schema)
    if value and not any(k in fields for k in value):
        return _fail(schema, f"no field of {schema.__name__} in keys {sorted(map(str, value))[:8]}",
                     text, page_index)
    clean, found, currencies = normalise_page(
        value, schema, page_hints(value, schema, locale=locale, fallback=hints))
    issues.extend(found)
    currency = fields.get("currency")
    if currency is not None and currency.kind == "currency" and clean.get("currency") is None \
            and len(currencies) == 1:
        clean["currency"] = next(iter(currencies))
        issues.append(Issue("currency_from_amounts", "currency",
                            f"no currency field; every amount shows {clean['currency']}"))
    for _ in range(_MAX_DROP_ROUNDS):
        try:
            record = schema.model_validate(clean)
            break
        except ValidationError as exc:
            dropped = False
            for err in exc.errors():
                if _drop(clean, tuple(err["loc"])):
                    dropped = True
                    issues.append(Issue("field_dropped", _loc_path(tuple(err["loc"])), err["msg"]))
            if not dropped:
                return _fail(schema, f"does not validate: {exc.errors()[0]['msg']} at "
                             f"{_loc_path(tuple(exc.errors()[0]['loc']))}", text, page_index)
            clean = _sweep(clean)
    else:
        return _fail(schema, "does not validate after dropping bad fields", text, page_index)
    issues = [Issue(i.kind, i.field, i.message, page_index) for i in issues]
    return PageResult(schema, record, None, text, tuple(issues), page_index)
