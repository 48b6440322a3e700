"""Synthetic born-digital invoices with exact truth, for tests, benchmarks and `raxdoc eval`.

    from raxdoc.testing.invoices import generate_invoice, write_corpus
    inv = generate_invoice(7, locale="de_DE", pages=2)   # inv.pdf (bytes), inv.truth (dict)
    write_corpus("corpus/", 50, seed=0)                   # inv-0000.pdf + inv-0000.json, ...

A seed fixes a document (same bytes every time). Varied per seed unless fixed by argument:
locale (en_US, en_GB, de_DE, fr_FR, de_CH: separators, numeric or month-name dates, labels,
paper), currency (USD, EUR, GBP, CHF), column set, wrapped descriptions, 1..N pages with the
table header repeated or not, carried-forward rows, bank details in the footer or under the
totals. Arithmetic holds exactly: quantity x unit_price - discount = amount, the amounts sum
to subtotal, VAT is rounded per rate, subtotal + tax_total = total.

Truth record (one JSON object per document, `<stem>.json`; format "raxdoc-invoice-truth/1"):
- Header fields of `raxdoc.schemas.Invoice`, under exactly its field names, only those the
  document prints (absent = not on the document): invoice_number, issue_date, due_date,
  delivery_date, purchase_order, customer_id, currency, vendor_name, vendor_address,
  vendor_tax_id, customer_name, customer_address, customer_tax_id, subtotal, tax_total,
  total, payment_terms, iban, bic, and `tax_breakdown` [{rate, base_amount, tax_amount}].
- `line_items`: one object per billed line in document order, `LineItem` field names
  (description, product_code, quantity, unit, unit_price, discount, tax_rate, amount: only
  the columns the table has, discount only where the line has one), plus `page_index` and
  `bbox` [x0, y0, x1, y1], the union of the item's drawn values (line numbers left out)
  normalised to 0..1 of the page's width and height, top-left origin.
- Values are NORMALISED as raxdoc.postprocess yields them: decimals as plain strings with
  the printed precision ("1234.50", quantity "2.5", rate "19"), dates ISO ("2025-12-26"),
  currency an ISO code, text as printed (addresses: lines joined with ", "; IBAN in its
  printed groups of four). `Invoice.model_validate(truth)` reads a truth record.
- `pages`: per page {page_index, width, height (points), fields: {name: string as printed},
  field_boxes: {name: bbox}, tax_breakdown: [{rate, base_amount, tax_amount} as printed],
  line_items: [{item_index (into line_items), printed: {field: string}, boxes: {field: bbox}}]}.
  Printed strings are what a reader copying the page would write ("1.234,56", "26.12.2025",
  "19 %"); the description is its drawn lines joined with one space. Continuation pages may
  print invoice_number again; footers may print iban/bic on every page.
- `meta`: {seed, locale, page_count, layout: the `Layout` fields}.

Not here: reading a page back as a model would (`standin.py`), scoring (`raxdoc eval`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from raxdoc.testing import invoice_content as content
from raxdoc.testing.invoice_layout import Content, Layout, PrintedPage, draw, union
from raxdoc.testing.invoice_locale import CURRENCIES, STYLES, LocaleStyle, fmt_date, fmt_money, fmt_rate, norm

TRUTH_FORMAT = "raxdoc-invoice-truth/1"
LOCALES = tuple(STYLES)
_ITEM_FIELDS = ("description", "product_code", "quantity", "unit", "unit_price", "discount", "tax_rate", "amount")


@dataclass(frozen=True)
class GeneratedInvoice:
    pdf: bytes
    truth: dict


def _norm_box(box: tuple[float, float, float, float], w: float, h: float) -> list[float]:
    """Normalised 0..1, rounded outwards to 1e-5 so the drawn text stays inside."""
    q = 1e5
    return [math.floor(box[0] / w * q) / q, math.floor(box[1] / h * q) / q,
            math.ceil(box[2] / w * q) / q, math.ceil(box[3] / h * q) / q]


def _totals_rows(style: LocaleStyle, currency: str) -> Callable[[list[content.Item]], list]:
    lab = style.labels

    def rows(items: list[content.Item]) -> list[tuple[str, str, str, dict[str, str] | None]]:
        subtotal, by_rate, tax_total, total = content.totals(items)
        out: list[tuple[str, str, str, dict[str, str] | None]] = [
            ("subtotal", lab["subtotal"], fmt_money(subtotal, style), None)]
        for rate, base, tax in by_rate:
            parts = {"rate": fmt_rate(rate, style), "base_amount": fmt_money(base, style),
                     "tax_amount": fmt_money(tax, style)}
            label = lab["tax_row"].format(rate=parts["rate"], base=parts["base_amount"])
            # One rate: its row is the tax total; several: a "Total VAT" row follows.
            out.append(("tax_total" if len(by_rate) == 1 else "", label, parts["tax_amount"], parts))
        if len(by_rate) > 1:
            out.append(("tax_total", lab["tax_total"], fmt_money(tax_total, style), None))
        out.append(("total", f"{lab['total']} ({currency})", fmt_money(total, style), None))
        return out

    return rows


def generate_invoice(seed: int, *, locale: str | None = None, layout: Layout | None = None,
                     pages: int | None = None, currency: str | None = None) -> GeneratedInvoice:
    """One invoice PDF and its truth record; arguments left None are drawn from `seed`."""
    rng = random.Random(seed)
    style = STYLES[locale or rng.choice(LOCALES)]
    layout = layout or Layout.random(rng)
    pages = pages or rng.choice([1, 1, 1, 2, 2, 3])
    if pages < 1:
        raise ValueError(f"pages must be >= 1, got {pages}")
    currency = currency or (style.currency if rng.random() < 0.8 else rng.choice(CURRENCIES))
    if currency not in CURRENCIES:
        raise ValueError(f"currency must be one of {CURRENCIES}, got {currency!r}")
    country = style.country
    vendor = content.party(rng, country, with_tax_id=True)
    customer = content.party(rng, country, with_tax_id=rng.random() < 0.5)
    while customer.name == vendor.name:
        customer = content.party(rng, country, with_tax_id=customer.tax_id is not None)
    issue, due, delivery = content.dates(rng)
    when = {"issue_date": issue, "due_date": due, "delivery_date": delivery}
    header: dict[str, object] = {"invoice_number": content.invoice_number(rng, style, issue.year)}
    header.update(issue_date=issue, due_date=due)
    if rng.random() < 0.5:
        header["delivery_date"] = delivery
    if rng.random() < 0.4:
        header["purchase_order"] = f"PO-{rng.randint(10000, 999999)}"
    if rng.random() < 0.5:
        header["customer_id"] = f"C{rng.randint(1000, 99999)}"
    header["currency"] = currency
    meta = [(name, fmt_date(v, style, named=layout.named_dates) if name in when else str(v))
            for name, v in header.items()]
    bank = []
    if country != "US":  # US invoices give routing and account numbers, not an IBAN
        bank = [("iban", content.iban(rng, country))] + (
            [("bic", content.bic(rng, country))] if rng.random() < 0.7 else [])
    terms = content.payment_terms(rng, style) if rng.random() < 0.5 else None
    discounts, mixed = "discount" in layout.columns, "tax_rate" in layout.columns

    def next_item() -> content.Item:
        return content.item(rng, style, long=rng.random() < layout.long_share, mixed_rates=mixed,
                            discounts=discounts)

    drawn = Content(style, vendor, customer, meta, bank, terms, next_item, _totals_rows(style, currency))
    pdf, printed = draw(drawn, layout, pages, rng)
    return GeneratedInvoice(pdf, _truth(seed, style, layout, header, printed))


def _truth(seed: int, style: LocaleStyle, layout: Layout, header: dict[str, object],
           printed: list[PrintedPage]) -> dict:
    w, h = style.paper
    items = [(p, it, cells, boxes) for p, page in enumerate(printed) for it, cells, boxes in page.items]
    subtotal, by_rate, tax_total, total = content.totals([it for _, it, _, _ in items])
    truth: dict = {"format": TRUTH_FORMAT}
    for name, value in header.items():
        truth[name] = value.isoformat() if hasattr(value, "isoformat") else value
    first = printed[0].fields
    for name in ("vendor_name", "vendor_address", "vendor_tax_id", "customer_name", "customer_address",
                 "customer_tax_id"):
        if name in first:
            truth[name] = first[name]
    truth.update(subtotal=norm(subtotal), tax_total=norm(tax_total), total=norm(total))
    truth["tax_breakdown"] = [{"rate": norm(r), "base_amount": norm(b), "tax_amount": norm(t)} for r, b, t in by_rate]
    for name in ("payment_terms", "iban", "bic"):
        found = [p.fields[name] for p in printed if name in p.fields]
        if found:
            truth[name] = found[-1]
    line_items = []
    for p, it, cells, boxes in items:
        exact = {"description": cells["description"], "product_code": it.product_code, "unit": it.unit,
                 "quantity": norm(it.quantity), "unit_price": norm(it.unit_price), "amount": norm(it.amount),
                 "tax_rate": norm(it.tax_rate),
                 "discount": norm(it.discount) if it.discount is not None else None}
        row = {k: exact[k] for k in _ITEM_FIELDS if k in cells}
        row["page_index"] = p
        row["bbox"] = _norm_box(union(list(boxes.values())), w, h)
        line_items.append(row)
    truth["line_items"] = line_items
    pages, k = [], 0
    for p, page in enumerate(printed):
        rows = []
        for _, cells, boxes in page.items:
            rows.append({"item_index": k, "printed": dict(cells),
                         "boxes": {f: _norm_box(b, w, h) for f, b in boxes.items()}})
            k += 1
        pages.append({"page_index": p, "width": w, "height": h, "fields": dict(page.fields),
                      "field_boxes": {f: _norm_box(b, w, h) for f, b in page.field_boxes.items()},
                      "tax_breakdown": list(page.tax_breakdown), "line_items": rows})
    truth["pages"] = pages
    truth["meta"] = {"seed": seed, "locale": style.code, "page_count": len(printed),
                     "layout": {**dataclasses.asdict(layout), "columns": list(layout.columns)}}
    return truth


def write_corpus(folder: str | Path, n: int, seed: int = 0, **kwargs: object) -> list[Path]:
    """Write `n` invoices as `inv-NNNN.pdf` + `inv-NNNN.json` into `folder`; returns the PDF paths.

    Locales rotate so that a small corpus covers them all (unless `locale` is given); other
    `kwargs` go to `generate_invoice`. Document i uses seed `seed * 1_000_003 + i`.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        args = {"locale": LOCALES[i % len(LOCALES)], **kwargs}
        inv = generate_invoice(seed * 1_000_003 + i, **args)  # type: ignore[arg-type]
        stem = out / f"inv-{i:04d}"
        stem.with_suffix(".pdf").write_bytes(inv.pdf)
        stem.with_suffix(".json").write_text(json.dumps(inv.truth, ensure_ascii=False, indent=1))
        paths.append(stem.with_suffix(".pdf"))
    return paths

