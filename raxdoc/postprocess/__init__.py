"""Postprocess: model text -> validated, normalised, checked records.

`parse_page_output` reads one page (`extract_json` then `validate_page`);
`merge_pages` joins a document's pages and runs the checks; `parse_document`
does both with document-wide number/date conventions, decoding each page once.
`strip_thinking` is the one rule for `<think>` blocks, applied here to every
reader's text (the engine returns what the model wrote). Number, date and
currency normalisers are usable alone.
Nothing here touches torch, Ray or files: rows and Parquet are `raxdoc.schemas`.
"""

from raxdoc.postprocess.currency import CurrencyError, currency_code, currency_in_text
from raxdoc.postprocess.date_order import infer_date_order
from raxdoc.postprocess.dates import DateError, parse_date
from raxdoc.postprocess.document import parse_document
from raxdoc.postprocess.extract import extract_json, strip_thinking
from raxdoc.postprocess.merge import merge_pages
from raxdoc.postprocess.normalise import PageHints
from raxdoc.postprocess.numbers import NumberError, infer_decimal_separator, parse_number
from raxdoc.postprocess.page import parse_page_output, validate_page
from raxdoc.schemas.records import Checks, DocumentRecord, Issue, PageResult, ParseFailure

__all__ = [
    "Checks", "CurrencyError", "DateError", "DocumentRecord", "Issue", "NumberError", "PageHints",
    "PageResult", "ParseFailure", "currency_code", "currency_in_text", "extract_json", "infer_date_order",
    "infer_decimal_separator", "merge_pages", "parse_date", "parse_document", "parse_number",
    "parse_page_output", "strip_thinking", "validate_page",
]
