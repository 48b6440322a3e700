"""`merge_pages`: a document's page results -> one record with checks and status.

Rules:
- Items from every parsed page, in page order; `page_index` is set on each and
  `item_index` counts within the page.
- Header fields take their first non-empty value in page order, except the
  schema's `raxdoc_last_page_fields` (totals), which take the last. A later page
  that disagrees is reported as `conflicting_values`, not used.
- Split item: if the last item of page k has a description and no amount, and
  the first item of page k+1 has an amount and either no description or one
  starting in lower case (a continued sentence), they are one item: the
  descriptions are joined with a space, the continuation fills only fields the
  first part lacks, and it keeps page k's index. Needs both pages parsed.
  (A description-only continuation after a complete item is *not* joined: it
  cannot be told from a section heading.)
- Carry-forward lines ("Übertrag", "carried forward") are kept as items and
  reported; the Σ lines = subtotal check leaves them out.
- A page that failed before any text existed (rendering, the engine) is a
  failed page whose kind is that upstream error type (`page_failures`); a page
  with no result at all is `missing`.
- Status (decided here and nowhere else): error when no page parsed — with the
  pages' own failure kind and message when they share one kind, else
  `no_page_parsed` — or when nothing usable came out (no header value and no
  item); partial when some page failed, or a hard check failed (subtotal + tax
  ≠ total, or Σ lines ≠ subtotal); ok otherwise. Line-level mismatches are
  soft: they lower confidence only.
- Pages in the file but not read (`file_page_count` over the pages merged:
  max_pages) are a `pages_not_read` issue and count in `page_count`; they do
  not change the status.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ValidationError

from raxdoc.postprocess.checks import is_carry_forward, run_checks
from raxdoc.schemas.fields import item_model, items_field, model_fields_of
from raxdoc.schemas.invoice import Invoice
from raxdoc.schemas.records import ERROR, MISSING, OK, PARTIAL, DocumentRecord, Issue, PageResult, ParseFailure


def _empty(v: object) -> bool:
    return v is None or v == [] or (isinstance(v, str) and not v.strip())


def _starts_continuation(desc: object) -> bool:
    if _empty(desc):
        return True
    text = str(desc).lstrip()
    return text[:1].islower()


def _joinable(last: BaseModel, first: BaseModel) -> bool:
    if not {"description", "amount"} <= set(type(last).model_fields):
        return False
    if _empty(last.description) or last.amount is not None or first.amount is None:
        return False
    codes = (getattr(last, "product_code", None), getattr(first, "product_code", None))
    if not _empty(codes[0]) and not _empty(codes[1]) and codes[0] != codes[1]:
        return False
    return _starts_continuation(first.description)


def _join(last: BaseModel, first: BaseModel) -> BaseModel:
    data = last.model_dump()
    for name, v in first.model_dump().items():
        if _empty(data.get(name)) and not _empty(v):
            data[name] = v
    if not _empty(first.description):
        data["description"] = f"{last.description.rstrip()} {first.description.strip()}"
    return type(last).model_validate(data)


def _header(pages: list[PageResult], schema: type[BaseModel]) -> tuple[dict, list[Issue]]:
    items = items_field(schema)
    last_fields = set(getattr(schema, "raxdoc_last_page_fields", ()))
    header, issues = {}, []
    for name, kind in model_fields_of(schema).items():
        if name == items or kind.internal:
            continue
        found = [(p.page_index, getattr(p.record, name)) for p in pages
                 if not _empty(getattr(p.record, name))]
        if not found:
            continue
        page, value = found[-1] if name in last_fields else found[0]
        header[name] = value
        if name not in last_fields:
            for other_page, other in found[1:]:
                if other != value:
                    issues.append(Issue("conflicting_values", name,
                                        f"page {other_page} shows {other!r}, kept {value!r} from page {page}",
                                        other_page))
                    break
    return header, issues


def _status(pages: tuple[PageResult, ...], usable: bool, checks) -> tuple[str, str | None, str | None]:
    failed = [p for p in pages if not p.ok]
    if not pages:
        return ERROR, "no_pages", "document has no pages"
    if len(failed) == len(pages):
        kinds = sorted({p.failure.kind for p in failed})
        return ERROR, kinds[0] if len(kinds) == 1 else "no_page_parsed", failed[0].failure.message
    if not usable:
        return ERROR, "empty_record", "pages parsed but no field or item was found"
    if failed:
        detail = ", ".join(f"{p.page_index}: {p.failure.kind}" for p in failed)
        return PARTIAL, "page_failed", f"{len(failed)} of {len(pages)} pages failed ({detail})"
    hard = [name for name, flag in (("subtotal + tax_total = total", checks.subtotal_tax_total),
                                    ("sum of lines = subtotal", checks.lines_sum_subtotal))
            if flag is False]
    if hard:
        return PARTIAL, "check_failed", "; ".join(hard) + " does not hold"
    return OK, None, None


def merge_pages(page_results: Iterable[PageResult], *, schema: type[BaseModel] | None = None,
                doc_id: str = "", source: str = "", page_count: int | None = None,
                page_failures: Mapping[int, ParseFailure] | None = None,
                file_page_count: int | None = None) -> DocumentRecord:
    """Merge one document's pages into a checked DocumentRecord.

    Pages without a page_index take their position. `page_failures` are pages
    that failed before any text existed ({page_index: failure}, kind = the
    upstream error type). With `page_count`, every index in range(page_count)
    with no result becomes a `missing` failure, so a page lost upstream still
    shows in the record (and makes it partial). `file_page_count`: the pages
    in the file, when more than were read.
    """
    pages = [p if p.page_index is not None else
             PageResult(p.schema, p.record, p.failure, p.raw_text, p.issues, n)
             for n, p in enumerate(page_results)]
    schema = schema or (pages[0].schema if pages else Invoice)
    seen = {p.page_index for p in pages}
    failures = dict(page_failures or {})
    if seen & set(failures):
        raise ValueError(f"pages {sorted(seen & set(failures))} have both a result and an upstream failure")
    failures.update({n: ParseFailure(MISSING, "no model output for this page", "")
                     for n in range(page_count or 0) if n not in seen and n not in failures})
    pages += [PageResult(schema, None, failure, "", (), n) for n, failure in failures.items()]
    pages = tuple(sorted(pages, key=lambda p: p.page_index))
    items_name = items_field(schema)
    has_page_index = "page_index" in item_model(schema).model_fields
    ok_pages = [p for p in pages if p.ok and p.record is not None]
    issues = [i for p in pages for i in p.issues]
    header, header_issues = _header(ok_pages, schema)
    issues.extend(header_issues)

    per_page: list[tuple[int, list[BaseModel]]] = [
        (p.page_index, list(getattr(p.record, items_name))) for p in ok_pages]
    for (page_a, items_a), (page_b, items_b) in zip(per_page, per_page[1:]):
        if page_b == page_a + 1 and items_a and items_b and _joinable(items_a[-1], items_b[0]):
            items_a[-1] = _join(items_a[-1], items_b.pop(0))
            issues.append(Issue("joined_across_pages", f"{items_name}[{len(items_a) - 1}]",
                                f"last item of page {page_a} continued on page {page_b}", page_a))
    items, keys = [], []
    for page, page_items in per_page:
        for index, item in enumerate(page_items):
            if is_carry_forward(item):
                issues.append(Issue("carry_forward_line", f"{items_name}[{index}]",
                                    f"{getattr(item, 'description', '')!r} looks like a running total; "
                                    "kept, but left out of the sum check", page))
            if has_page_index:
                item = item.model_copy(update={"page_index": page})
            items.append(item)
            keys.append((page, index))

    try:
        record = schema.model_validate({**header, items_name: [i.model_dump() for i in items]})
    except ValidationError:  # a custom schema's required header field is on no parsed page
        values = {**{n: None for n in model_fields_of(schema)}, **header, items_name: items}
        record = schema.model_construct(**values)
    merged_items = list(getattr(record, items_name))
    checks = run_checks(record, merged_items, [k[0] for k in keys], len(ok_pages), len(pages), issues)
    usable = bool(merged_items) or bool(header)
    status, error_type, error = _status(pages, usable, checks)
    unread = file_page_count is not None and file_page_count > len(pages)
    if unread:
        issues.append(Issue("pages_not_read", "", f"read {len(pages)} of {file_page_count} pages (max_pages)"))
    return DocumentRecord(schema, record, tuple(keys), pages, checks, status, error_type, error,
                          tuple(issues), doc_id, source, file_page_count if unread else None)


def recheck(doc: DocumentRecord) -> DocumentRecord:
    """`doc` with its checks and status decided again by the rules above, after values of its
    record changed (misreads corrected from the printed text: `grounding`)."""
    items_name = items_field(doc.schema)
    items = list(getattr(doc.record, items_name))
    ok_pages = [p for p in doc.pages if p.ok and p.record is not None]
    checks = run_checks(doc.record, items, [k[0] for k in doc.item_keys], len(ok_pages), len(doc.pages), doc.issues)
    usable = bool(items) or any(not _empty(getattr(doc.record, n, None)) for n, kind in
                                model_fields_of(doc.schema).items() if n != items_name and not kind.internal)
    status, error_type, error = _status(doc.pages, usable, checks)
    return dataclasses.replace(doc, checks=checks, status=status, error_type=error_type, error=error)
