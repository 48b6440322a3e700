"""Postprocess: model text -> validated, normalised, checked records.

`parse_page_output` reads one page; `merge_pages` joins a document's pages and
runs the checks. Number, date and currency normalisers are usable alone.
Nothing here touches torch, Ray or files: rows and Parquet are `raxdoc.schemas`.
"""

from raxdoc.postprocess.currency import CurrencyError, currency_code, currency_in_text
from raxdoc.postprocess.dates import DateError, infer_date_order, parse_date
from raxdoc.postprocess.extract import extract_json, strip_reasoning
from raxdoc.postprocess.numbers import NumberError, infer_decimal_separator, parse_number
from raxdoc.postprocess.page import parse_page_output
from raxdoc.schemas.records import Checks, DocumentRecord, Issue, PageResult, ParseFailure

__all__ = [
    "Checks", "CurrencyError", "DateError", "DocumentRecord", "Issue", "NumberError", "PageResult",
    "ParseFailure", "currency_code", "currency_in_text", "extract_json", "infer_date_order",
    "infer_decimal_separator", "parse_date", "parse_number", "parse_page_output", "strip_reasoning",
]
