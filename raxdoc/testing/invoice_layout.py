"""Where a synthetic invoice's text goes: pages, header blocks, the item table, totals, footers.

`Layout` is the drawing variant (column set, repeated table header, bank details in the
footer, carried-forward rows, ...). `draw` places the values on PyMuPDF pages as real text
(through `invoice_canvas.Canvas`; fonts subset) and records, for every value it draws, the
exact string and its box in points, so the truth can say where each item is. Page breaks:
a table page is filled until the next row does not fit; the last page also holds the
totals block. What the values are comes from `invoice_content.py`; how they
print, from `invoice_locale.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pymupdf

from raxdoc.testing.invoice_canvas import LINE, MARGIN, Box, Canvas, text_width, union, wrap
from raxdoc.testing.invoice_content import Item, Party
from raxdoc.testing.invoice_locale import LocaleStyle, fmt_money, fmt_number, fmt_rate

# Table columns in drawing order; "pos" (a running line number) is printed but is no item field.
COLUMN_ORDER = ("pos", "product_code", "description", "quantity", "unit", "unit_price", "discount",
                "tax_rate", "amount")
_WIDTH = {"pos": 22, "product_code": 58, "quantity": 38, "unit": 34, "unit_price": 62, "discount": 52,
          "tax_rate": 40, "amount": 66}
_RIGHT = {"pos", "quantity", "unit_price", "discount", "tax_rate", "amount"}
_BOTTOM = 62.0  # space kept free for the footer


@dataclass(frozen=True)
class Layout:
    columns: tuple[str, ...]  # table columns, a subset of COLUMN_ORDER in that order
    repeat_header: bool  # table header row drawn again on every page
    continuation_header: bool  # "Invoice X (continued)" atop pages after the first
    bank_in_footer: bool  # IBAN / BIC in every page's footer rather than under the totals
    named_dates: bool  # "Dec 26, 2025" rather than "12/26/2025"
    row_rules: bool  # a thin rule under every item row
    carry_forward: bool  # "Carried forward" / "Brought forward" rows at page breaks (not items)
    long_share: float = 0.3  # share of descriptions given a detail clause, long enough to wrap

    def __post_init__(self) -> None:
        required = {"description", "quantity", "unit_price", "amount"}
        if not required <= set(self.columns) or tuple(c for c in COLUMN_ORDER if c in self.columns) != self.columns:
            raise ValueError(f"columns must include {sorted(required)} in COLUMN_ORDER order: {self.columns}")

    @classmethod
    def random(cls, rng: random.Random) -> "Layout":
        optional = [c for c in ("pos", "product_code", "unit", "discount", "tax_rate") if rng.random() < 0.5]
        columns = tuple(c for c in COLUMN_ORDER if c in optional or c in ("description", "quantity",
                                                                          "unit_price", "amount"))
        return cls(columns, rng.random() < 0.7, rng.random() < 0.6, rng.random() < 0.4, rng.random() < 0.4,
                   rng.random() < 0.5, rng.random() < 0.25)


@dataclass
class PrintedPage:
    """What one page shows: header fields, tax rows and items, each as the string drawn and its box."""

    fields: dict[str, str] = field(default_factory=dict)
    field_boxes: dict[str, Box] = field(default_factory=dict)
    tax_breakdown: list[dict[str, str]] = field(default_factory=list)
    items: list[tuple[Item, dict[str, str], dict[str, Box]]] = field(default_factory=list)


class _Table:
    def __init__(self, layout: Layout, width: float) -> None:
        fixed = sum(_WIDTH[c] for c in layout.columns if c != "description")
        widths = {c: float(_WIDTH.get(c, width - 2 * MARGIN - fixed)) for c in layout.columns}
        x, self.left, self.right = MARGIN, {}, {}
        for c in layout.columns:
            self.left[c], self.right[c] = x + (0 if c == "pos" else 4), x + widths[c]
            x += widths[c]
        self.desc_width = widths["description"] - 6
        self.layout = layout

    def header(self, cv: Canvas, y: float, labels: dict[str, str]) -> float:
        for c in self.layout.columns:
            right = c in _RIGHT
            cv.text(self.right[c] if right else self.left[c], y, labels[c], bold=True, right=right)
        cv.rule(y + 4)
        return y + LINE + 6

    def cells(self, it: Item, style: LocaleStyle, lines: list[str], pos: int) -> dict[str, str]:
        printed = {"pos": str(pos), "product_code": it.product_code, "description": " ".join(lines),
                   "quantity": fmt_number(it.quantity, style), "unit": it.unit,
                   "unit_price": fmt_money(it.unit_price, style), "tax_rate": fmt_rate(it.tax_rate, style),
                   "amount": fmt_money(it.amount, style)}
        if it.discount is not None:
            printed["discount"] = fmt_money(it.discount, style)
        return {c: printed[c] for c in self.layout.columns if c in printed}

    def row(self, cv: Canvas, y: float, cells: dict[str, str], lines: list[str]) -> dict[str, Box]:
        boxes: dict[str, Box] = {}
        for c, s in cells.items():
            if c == "description":
                boxes[c] = union([cv.text(self.left[c], y + k * LINE, line) for k, line in enumerate(lines)])
            else:
                right = c in _RIGHT
                boxes[c] = cv.text(self.right[c] if right else self.left[c], y, s, right=right)
        boxes.pop("pos", None)
        return boxes


def _header_page0(cv: Canvas, style: LocaleStyle, vendor: Party, customer: Party,
                  meta: list[tuple[str, str]], out: PrintedPage) -> float:
    lab, w = style.labels, cv.width

    def put(name: str, value: str, box: Box) -> None:
        out.fields[name], out.field_boxes[name] = value, box

    put("vendor_name", vendor.name, cv.text(MARGIN, 62, vendor.name, bold=True, size=13))
    put("vendor_address", ", ".join(vendor.address_lines),
        union([cv.text(MARGIN, 78 + 11 * k, line) for k, line in enumerate(vendor.address_lines)]))
    y = 78 + 11 * len(vendor.address_lines)
    if vendor.tax_id:
        put("vendor_tax_id", vendor.tax_id, cv.labelled(MARGIN, y, lab["vendor_tax_id"], vendor.tax_id))
    cv.text(w - MARGIN, 62, lab["title"], bold=True, size=16, right=True)
    ym = 92.0
    for name, value in meta:
        cv.text(w - MARGIN - 215, ym, lab[name] + ":")
        put(name, value, cv.text(w - MARGIN - 105, ym, value))
        ym += 12
    yc = max(140.0, y + 30)
    cv.text(MARGIN, yc, lab["bill_to"], bold=True)
    put("customer_name", customer.name, cv.text(MARGIN, yc + 13, customer.name))
    put("customer_address", ", ".join(customer.address_lines),
        union([cv.text(MARGIN, yc + 24 + 11 * k, line) for k, line in enumerate(customer.address_lines)]))
    yc += 24 + 11 * len(customer.address_lines)
    if customer.tax_id:
        put("customer_tax_id", customer.tax_id, cv.labelled(MARGIN, yc, lab["customer_tax_id"], customer.tax_id))
        yc += 11
    return max(ym, yc) + 26


@dataclass(frozen=True)
class Content:
    """The values `draw` places, already chosen (items come one at a time from `next_item`)."""

    style: LocaleStyle
    vendor: Party
    customer: Party
    meta: list[tuple[str, str]]  # right-hand header block: (field, printed), invoice_number first
    bank: list[tuple[str, str]]  # ("iban", ...), ("bic", ...); may be empty
    payment_terms: str | None
    next_item: Callable[[], Item]
    # items -> totals rows (field or "", label, printed value, None or a tax row's printed
    # {"rate", "base_amount", "tax_amount"}); the row named "total" is drawn bold.
    totals: Callable[[list[Item]], list[tuple[str, str, str, dict[str, str] | None]]]


def draw(content: Content, layout: Layout, pages: int, rng: random.Random) -> tuple[bytes, list[PrintedPage]]:
    """Draw the invoice on exactly `pages` pages; return the PDF bytes and what each page shows."""
    style, lab = content.style, content.style.labels
    doc = pymupdf.open()
    table = _Table(layout, style.paper[0])
    out = [PrintedPage() for _ in range(pages)]
    items: list[Item] = []
    pending: tuple[Item, list[str]] | None = None
    bank_lines = 0 if layout.bank_in_footer else len(content.bank)
    reserve = 13 * 6 + 12 * (bank_lines + (content.payment_terms is not None)) + 24
    running = None
    for p in range(pages):
        cv, last = Canvas(doc, style.paper), p == pages - 1
        if p == 0:
            y = _header_page0(cv, style, content.vendor, content.customer, content.meta, out[p])
        elif layout.continuation_header:
            number = content.meta[0][1]
            box = cv.text(MARGIN, 50, lab["continued"].format(number=number), bold=True)
            out[p].fields["invoice_number"] = number
            start = box[0] + text_width(lab["continued"].split("{number}")[0], bold=True)
            out[p].field_boxes["invoice_number"] = (start, box[1], start + text_width(number, bold=True), box[3])
            y = 78.0
        else:
            y = 56.0
        if p == 0 or layout.repeat_header:
            y = table.header(cv, y, lab)
        if running is not None:
            cv.text(table.left["description"], y, lab["brought"])
            cv.text(table.right["amount"], y, running, right=True)
            y += LINE + 4
        limit = cv.height - _BOTTOM - (reserve + 13 * len(content.style.vat_rates) if last else LINE + 4)
        target = rng.randint(1, 12 if pages > 1 else 16) if last else 10**6
        placed = 0
        while placed < target:
            if pending is None:
                it = content.next_item()
                pending = (it, wrap(it.description, table.desc_width))
            it, lines = pending
            if y + LINE * len(lines) > limit and placed:
                break
            cells = table.cells(it, style, lines, len(items) + 1)
            boxes = table.row(cv, y, cells, lines)
            cells.pop("pos", None)
            out[p].items.append((it, cells, boxes))
            items.append(it)
            pending, placed = None, placed + 1
            if layout.row_rules:  # in the gap below the last line's descenders
                cv.rule(y + LINE * (len(lines) - 1) + 4.5)
            y += LINE * len(lines) + (7 if layout.row_rules else 3)
        if not last and layout.carry_forward:
            running = fmt_money(sum(i.amount for i in items), style)
            cv.text(table.left["description"], y + 4, lab["carried"])
            cv.text(table.right["amount"], y + 4, running, right=True)
        if last:
            _totals(cv, y + 10, content, layout, items, out[p])
        _footer(cv, content, layout, p, pages, out[p])
        cv.finish()
    doc.subset_fonts()
    doc.set_metadata({"producer": "raxdoc.testing", "creator": "raxdoc.testing"})
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data, out


def _totals(cv: Canvas, y: float, content: Content, layout: Layout, items: list[Item],
            out: PrintedPage) -> None:
    x_label, x_value = cv.width - MARGIN - 250, cv.width - MARGIN
    cv.rule(y - 8, x0=x_label)
    for name, label, value, parts in content.totals(items):
        bold = name == "total"
        cv.text(x_label, y, label, bold=bold)
        box = cv.text(x_value, y, value, bold=bold, right=True)
        if parts is not None:
            out.tax_breakdown.append(parts)
        if name:
            out.fields[name], out.field_boxes[name] = value, box
        y += 13
    y += 10
    terms = [("payment_terms", content.payment_terms)] if content.payment_terms else []
    for name, value in terms + ([] if layout.bank_in_footer else content.bank):
        out.fields[name] = value
        out.field_boxes[name] = cv.labelled(MARGIN, y, content.style.labels[name], value)
        y += 12


def _footer(cv: Canvas, content: Content, layout: Layout, p: int, pages: int, out: PrintedPage) -> None:
    y = cv.height - 32
    cv.text(cv.width - MARGIN, y, content.style.labels["page"].format(i=p + 1, n=pages), size=7.5, right=True)
    if layout.bank_in_footer and content.bank:
        x = MARGIN
        for name, value in content.bank:
            box = cv.text(x, y, f"{content.style.labels[name]}:", size=7.5)
            vbox = cv.text(box[2] + 3, y, value, size=7.5)
            out.fields[name], out.field_boxes[name] = value, vbox
            x = vbox[2] + 12
