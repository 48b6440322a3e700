"""The stand-in reader's core: the JSON a model would write for one generated invoice page.

`read_page(truth, page_index, rng=..., noise=...)` copies a page's printed values from a truth
record (`invoices.py`) into the page JSON the real reader writes (the shape of
`raxdoc.schemas.jsonschema.page_json_schema(Invoice)`: header fields shown on that page, its
tax rows and items, every value as printed, keys in schema order). With `noise` > 0 it
injects, at that rate, the errors a vision-language model makes, and logs each one:

- per item, one draw: with probability `noise` one of `kinds` (default all four):
  `misread_digit` (one digit of one number: 8<->3, 1<->7, 0->8, 5<->6, 2->7, 4<->9),
  `dropped_line`, `repeated_line` (written twice), `cut_description` (second half of the
  words lost, as when a wrapped line is missed);
- per total on the page (subtotal, tax_total, total), one draw: `misread_total`.

An error that cannot apply (cutting a one-word description) becomes a misread digit, so the
rate holds. The same rng state gives the same text and log; `page_rng` derives one per page
from a seed and the document, independent of the order pages are read in.

Not here: the engine-stage wrapper that plugs this into the pipeline (a thin layer over
`read_page` + `load_truth`), truth generation, scoring.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from raxdoc.schemas.invoice import Invoice, LineItem

ITEM_ERRORS = ("misread_digit", "dropped_line", "repeated_line", "cut_description")
TOTAL_FIELDS = ("subtotal", "tax_total", "total")
NUMERIC_ITEM_FIELDS = ("quantity", "unit_price", "discount", "amount")
# Digit confusions common in OCR and VLM reading of small print; never a digit to itself.
CONFUSIONS = {"8": "30", "3": "8", "1": "7", "7": "1", "0": "8", "5": "6", "6": "5", "2": "7", "4": "9",
              "9": "4"}
_HEADER = [n for n in Invoice.model_fields if n not in ("tax_breakdown", "line_items")]
_ITEM = [n for n, f in LineItem.model_fields.items() if n != "page_index"]


@dataclass(frozen=True)
class Injected:
    """One error put into the reader's output."""

    kind: str  # misread_digit | dropped_line | repeated_line | cut_description | misread_total
    page_index: int
    field: str  # "line_items[3].amount" (index of the row on the page), "line_items[3]", "total"
    before: str | None  # printed value; a dropped / repeated line: its description
    after: str | None  # what the reader wrote instead; None for a dropped line
    item_index: int | None = None  # index into truth["line_items"]; None for header fields

    def to_dict(self) -> dict:
        return asdict(self)


def page_rng(seed: int, doc_key: str, page_index: int) -> random.Random:
    """A generator for one page, fixed by (seed, document, page) alone."""
    digest = hashlib.sha256(f"{seed}\0{doc_key}\0{page_index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def load_truth(pdf_path: str | Path) -> dict:
    """The truth record written beside a generated PDF (`<stem>.json`)."""
    return json.loads(Path(pdf_path).with_suffix(".json").read_text())


def misread(text: str, rng: random.Random) -> str:
    """`text` with one digit swapped for a look-alike."""
    spots = [i for i, ch in enumerate(text) if ch in CONFUSIONS]
    if not spots:
        raise ValueError(f"no digit to misread in {text!r}")
    i = rng.choice(spots)
    return text[:i] + rng.choice(CONFUSIONS[text[i]]) + text[i + 1:]


def _cut(description: str) -> str:
    words = description.split()
    return " ".join(words[:max(1, len(words) // 2)])


def read_page(truth: dict, page_index: int, *, rng: random.Random | int, noise: float = 0.0,
              kinds: tuple[str, ...] = ITEM_ERRORS) -> tuple[str, list[Injected]]:
    """(JSON text the reader writes for the page, errors injected), as described above."""
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    if not kinds or not set(kinds) <= set(ITEM_ERRORS):
        raise ValueError(f"kinds must be a non-empty subset of {ITEM_ERRORS}, got {kinds}")
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    page = truth["pages"][page_index]
    log: list[Injected] = []
    out: dict = {}
    for name in _HEADER:
        if name not in page["fields"]:
            continue
        value = page["fields"][name]
        if name in TOTAL_FIELDS and rng.random() < noise:
            wrong = misread(value, rng)
            log.append(Injected("misread_total", page_index, name, value, wrong))
            value = wrong
        out[name] = value
    if page["tax_breakdown"]:
        out["tax_breakdown"] = [dict(row) for row in page["tax_breakdown"]]
    items: list[dict] = []
    for j, row in enumerate(page["line_items"]):
        values = {n: row["printed"][n] for n in _ITEM if n in row["printed"]}
        k = row["item_index"]
        if rng.random() >= noise:
            items.append(values)
            continue
        kind = rng.choice(kinds)
        if kind == "cut_description" and len(values.get("description", "").split()) < 2:
            kind = "misread_digit"
        if kind == "dropped_line":
            log.append(Injected(kind, page_index, f"line_items[{j}]", values.get("description"), None, k))
            continue
        if kind == "repeated_line":
            log.append(Injected(kind, page_index, f"line_items[{j}]", None, values.get("description"), k))
            items.extend([values, dict(values)])
            continue
        if kind == "cut_description":
            name, wrong = "description", _cut(values["description"])
        else:
            name = rng.choice([n for n in NUMERIC_ITEM_FIELDS if n in values])
            wrong = misread(values[name], rng)
        log.append(Injected(kind, page_index, f"line_items[{j}].{name}", values[name], wrong, k))
        values[name] = wrong
        items.append(values)
    out["line_items"] = items
    return json.dumps(out, ensure_ascii=False), log


def read_pages(truth: dict, *, seed: int = 0, noise: float = 0.0, doc_key: str = "",
               kinds: tuple[str, ...] = ITEM_ERRORS) -> tuple[list[str], list[Injected]]:
    """Every page of a document, each with its own `page_rng(seed, doc_key, page)`."""
    texts, log = [], []
    for p in range(len(truth["pages"])):
        text, injected = read_page(truth, p, rng=page_rng(seed, doc_key, p), noise=noise, kinds=kinds)
        texts.append(text)
        log.extend(injected)
    return texts, log
