"""Find the JSON value in a model's raw text; `strip_thinking`, the one rule for `<think>`.

Steps: drop reasoning (`strip_thinking`), drop code fences, then decode
strictly from each `{` / `[` and keep the longest value found (prose around
the JSON is ignored). When nothing decodes: unconstrained output is repaired
with json-repair (noted as an issue); constrained output is a typed failure,
`truncated` if the object never closed. Never raises on any input; schema
shape and field values are checked elsewhere (`page.py`, `normalise.py`).

Thinking is stripped here and nowhere else: every reader (our engine, a
transformers backend) returns what the model wrote, and the text becomes a
record only through this module, so all of them get the same rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal

import json_repair

from raxdoc.schemas.records import EMPTY, INVALID_JSON, NO_JSON, TRUNCATED, ParseFailure

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(r"<think>", re.IGNORECASE)
_CLOSE = re.compile(r"</think>", re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*")
_MAX_STARTS = 64  # decode attempts per text: bounds the cost of brace-heavy prose


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed in invoice JSON")


# Exact decimals from JSON numbers ("12.50" keeps its printed precision).
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


@dataclass(frozen=True)
class Extracted:
    value: object  # decoded JSON value
    repaired: bool  # json-repair was needed


def strip_thinking(text: str) -> str:
    """The answer part of a model's text: every `<think>` block removed.

    - A closed block `<think>...</think>` is removed wherever it is.
    - A `</think>` left without its open means the chat template opened the
      block in the prompt: everything before the last one is reasoning.
    - An unclosed `<think>` removes everything after it. The model never
      finished reasoning (mostly the token budget ran out mid-thought), so JSON
      written there is a draft it had not committed to, possibly before it
      checked the totals. Taking it would turn a visible failure into a record
      that may be silently wrong; instead the page is an `empty` failure whose
      raw text (thinking included) stays in `failed_pages` for re-parsing. A
      model that answers inside an open block is treated the same way: its
      output is malformed, and saying so beats guessing. Grammar-constrained
      output cannot open a block at all.
    Tags match case-insensitively; text around the blocks is kept, leading
    whitespace dropped.
    """
    text = _THINK.sub("", text)
    closes = list(_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end():]
    opened = _OPEN.search(text)
    if opened is not None:
        text = text[:opened.start()]
    return text.lstrip()


def _span_end(text: str, start: int) -> int | None:
    """Index after the bracket closing the one at `start` (string-aware); None if it never closes."""
    depth, in_str, escape = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


@dataclass(frozen=True)
class _Scan:
    value: object | None  # longest strictly decoded top-level object / array
    length: int  # its length in characters
    invalid: tuple[int, int] | None  # longest closed span that did not decode
    truncated_at: int | None  # start of a span that never closes


def _scan(text: str) -> _Scan:
    """Decode each top-level bracketed span; nested spans are never tried on their own."""
    best, best_len = None, 0
    invalid: tuple[int, int] | None = None
    pos = 0
    for _ in range(_MAX_STARTS):
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            end = _span_end(text, start)
            if end is None:
                return _Scan(best, best_len, invalid, start)
            if invalid is None or end - start > invalid[1] - invalid[0]:
                invalid = (start, end)
            pos = end
            continue
        if end - start > best_len:
            best, best_len = value, end - start
        pos = end
    return _Scan(best, best_len, invalid, None)


def _to_decimal(value: object) -> object:
    """json-repair returns floats; make them Decimals via their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_decimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_decimal(v) for v in value]
    return value


def extract_json(text: str, *, constrained: bool) -> Extracted | ParseFailure:
    """The JSON value in `text`, or a typed failure keeping the raw text."""
    raw = text if isinstance(text, str) else str(text)
    body = _FENCE.sub("", strip_thinking(raw))
    if not body.strip():
        return ParseFailure(EMPTY, "no answer text (empty, or only reasoning: a `<think>` never closed "
                            "counts as reasoning)", raw)
    first = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if first < 0:
        return ParseFailure(NO_JSON, "no JSON object in the text", raw)
    scan = _scan(body)
    cut_longer = scan.truncated_at is not None and len(body) - scan.truncated_at > scan.length
    if scan.value is not None and not cut_longer:
        return Extracted(scan.value, repaired=False)
    if constrained:
        if cut_longer or scan.truncated_at is not None:
            return ParseFailure(TRUNCATED, "JSON ends before its object closes", raw)
        return ParseFailure(INVALID_JSON, "text is not valid JSON", raw)
    if cut_longer:
        first = scan.truncated_at
    elif scan.invalid is not None:
        first = scan.invalid[0]
    try:
        repaired = json_repair.loads(body[first:])
    except (ValueError, RecursionError, TypeError, IndexError, KeyError) as exc:
        return ParseFailure(INVALID_JSON, f"JSON could not be repaired: {exc}", raw)
    if not isinstance(repaired, (dict, list)) or not repaired:
        return ParseFailure(INVALID_JSON, "JSON could not be repaired", raw)
    return Extracted(_to_decimal(repaired), repaired=True)
