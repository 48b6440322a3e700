"""`parse_document`: every page's model text -> one merged DocumentRecord.

Two passes, so the reading conventions are the *document's*: pass one decodes
each page's JSON (once: `extract_json`) and pools the evidence (a "13/03/2024"
on page 1 fixes the day/month order of "05/04/2024" on page 3; a "1.234,56"
fixes the decimal comma of a lone "1.234"); pass two validates each decoded
page with that pooled hint (`validate_page`; the page's own evidence still
wins, the locale comes last). Then `merge_pages`. This is the call the
pipeline's CPU stage makes per document; given the pages' text-layer words,
it grounds the merged values in them (`grounding.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from raxdoc.postprocess.extract import Extracted, extract_json
from raxdoc.postprocess.grounding import ground_document
from raxdoc.postprocess.merge import merge_pages
from raxdoc.postprocess.normalise import document_hints
from raxdoc.postprocess.page import page_object, validate_page
from raxdoc.schemas.invoice import Invoice
from raxdoc.schemas.records import DocumentRecord, ParseFailure


def parse_document(page_texts: Sequence[str] | Mapping[int, str], schema: type[BaseModel] = Invoice, *,
                   constrained: bool, locale: str | None = None, doc_id: str = "", source: str = "",
                   page_count: int | None = None, page_failures: Mapping[int, ParseFailure] | None = None,
                   file_page_count: int | None = None,
                   page_words: Mapping[int, Sequence] | None = None,
                   page_sources: Mapping[int, str | None] | None = None) -> DocumentRecord:
    """Parse and merge one document's pages.

    `page_texts` is a sequence in page order, or {page_index: text} when some
    pages may be missing; with `page_count`, absent pages become `missing`.
    `page_failures` and `file_page_count` go to `merge_pages` (pages that
    failed before any text existed; pages in the file, when not all were read).
    `page_words` ({page_index: words (x0, y0, x1, y1, text), 0..1}) turns grounding on
    (`grounding.ground_document`); without it the grounding columns stay null. `page_sources`
    ({page_index: "pdf" | "ocr" | None}) says where each page's words came from: OCR words are
    matched with OCR's misreads allowed.
    """
    texts = dict(page_texts) if isinstance(page_texts, Mapping) else dict(enumerate(page_texts))
    decoded = {n: extract_json(text, constrained=constrained) for n, text in texts.items()}
    hints = document_hints([page_object(got.value, schema)[0] for got in decoded.values()
                            if isinstance(got, Extracted)], schema, locale=locale)
    pages = [validate_page(decoded[n], text, schema, page_index=n, locale=locale, hints=hints)
             for n, text in sorted(texts.items())]
    merged = merge_pages(pages, schema=schema, doc_id=doc_id, source=source, page_count=page_count,
                         page_failures=page_failures, file_page_count=file_page_count)
    return merged if page_words is None else ground_document(merged, page_words, hints, page_sources)
