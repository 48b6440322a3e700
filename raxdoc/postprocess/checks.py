"""Reconciliation checks and the per-document confidence; results, never fixes.

Tolerance (decision): half a unit in the last *printed* place of every operand,
scaled by quantity for the unit price, and never below 0.01. "12.50" is good
to ±0.005, so 3 × 12.50 = 37.50 passes with ±0.02; an amount printed in whole
units gets ±0.5. This follows the page's own rounding instead of a flat 0.5%,
which at a 10,000 total would let a missing 40.00 line pass. A line passes if
its amount matches quantity × unit_price − discount net, or gross at its tax
rate. Checks read fields by name (quantity, unit_price, amount, discount,
tax_rate, subtotal, discount_total, tax_total, total): a custom schema without
them gets None ("not checkable"), not a failure. `discount_total` is signed,
allowances − charges (`_net_discounts`). The VAT breakdown check
(base × rate = tax per row, Σ = tax_total) is soft: it lowers confidence only.
Grounding (`grounding.py`) lowers it too: items whose values are not all on their
page's text layer scale it down (`grounded_confidence`); an unknown verdict (no
text layer) leaves it as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel

from raxdoc.schemas.records import Checks, DocumentRecord, Issue

FLOOR = Decimal("0.01")
# Running-total lines a model may copy as items on multi-page invoices ("Übertrag 1.234,56").
_CARRY = re.compile(r"\b(übertrag|uebertrag|carried forward|brought forward|carry forward|a reporter|"
                    r"à reporter|zwischensumme|subtotal)\b", re.IGNORECASE)
# Issues that lower confidence (each costs DOUBT_COST, up to MAX_DOUBT). A value corrected from the
# printed text is settled, but the reader misread it: its other values deserve a second look (so
# does a line read back from the page, or one dropped as read twice).
DOUBT_KINDS = frozenset({"field_dropped", "ambiguous_number", "ambiguous_date", "repaired_json",
                         "wrapped_list", "joined_across_pages", "conflicting_values", "ungrounded_item",
                         "corrected_from_text", "possibly_missed_line", "added_from_text",
                         "removed_repeated_line"})
DOUBT_COST, MAX_DOUBT = 0.02, 0.3
# Confidence lost when every item is ungrounded (grounded False); a share of items loses that share.
UNGROUNDED_COST = 0.5


def half_ulp(x: Decimal) -> Decimal:
    """Half a unit in the last printed place: the rounding error of a printed value."""
    exp = x.as_tuple().exponent
    return Decimal(1).scaleb(exp if isinstance(exp, int) else 0) / 2


def _get(obj: object, name: str) -> Decimal | None:
    v = getattr(obj, name, None)
    return v if isinstance(v, Decimal) else None


def line_amount_ok(item: BaseModel) -> bool | None:
    """quantity × unit_price − discount ≈ amount (net or gross); None when a part is missing."""
    q, p, a = _get(item, "quantity"), _get(item, "unit_price"), _get(item, "amount")
    if q is None or p is None or a is None:
        return None
    d = _get(item, "discount")
    gross = q * p
    if d is None:
        net = gross
    else:  # a discount lowers the magnitude whichever sign the model gave it
        net = gross - abs(d) if gross >= 0 else gross + abs(d)
    tol = max(FLOOR, abs(q) * half_ulp(p) + half_ulp(a) + (half_ulp(d) if d is not None else 0))
    if abs(net - a) <= tol:
        return True
    rate = _get(item, "tax_rate")
    if rate is None:
        return False
    factor = 1 + rate / 100
    return abs(net * factor - a) <= tol * factor + half_ulp(a)


def is_carry_forward(item: BaseModel) -> bool:
    """A running-total line (carried forward / Übertrag / subtotal), not a billed item."""
    desc = getattr(item, "description", None)
    return (isinstance(desc, str) and _CARRY.search(desc) is not None
            and _get(item, "quantity") is None and _get(item, "unit_price") is None)


def _net_discounts(header: BaseModel) -> list[Decimal]:
    """What `discount_total` may change a sum by: nothing (the subtotal is before it), or minus the
    signed value (allowances − charges: a net charge is negative and raises the sum, as the
    e-invoice readers give it); a negative value may also be a discount printed with its minus
    sign ("Rabatt -5,00"), so it may lower the sum too. A positive value is never a charge."""
    d = _get(header, "discount_total")
    if d is None:
        return [Decimal(0)]
    return [Decimal(0), -d] + ([d] if d < 0 else [])


def lines_sum_subtotal(items: Sequence[BaseModel], header: BaseModel) -> bool | None:
    """Σ item amounts ≈ subtotal (or Σ − discount_total ≈ subtotal, `_net_discounts`); None if not checkable.

    Carry-forward lines (`is_carry_forward`) are left out of the sum; they stay in the data.
    """
    subtotal = _get(header, "subtotal")
    amounts = [_get(i, "amount") for i in items if not is_carry_forward(i)]
    if subtotal is None or not amounts or any(a is None for a in amounts):
        return None
    total = sum(amounts, Decimal(0))  # type: ignore[arg-type]
    tol = max(FLOOR, sum((half_ulp(a) for a in amounts), Decimal(0)) + half_ulp(subtotal))  # type: ignore[arg-type]
    candidates = [total + d for d in _net_discounts(header)]
    return any(abs(c - subtotal) <= tol for c in candidates)


def subtotal_tax_total(header: BaseModel) -> bool | None:
    """subtotal + tax_total ≈ total, or subtotal − discount_total + tax_total ≈ total (`_net_discounts`);
    None if not checkable."""
    sub, tax, total = _get(header, "subtotal"), _get(header, "tax_total"), _get(header, "total")
    if sub is None or tax is None or total is None:
        return None
    tol = max(FLOOR, half_ulp(sub) + half_ulp(tax) + half_ulp(total))
    return any(abs(sub + d + tax - total) <= tol for d in _net_discounts(header))


def tax_breakdown_ok(header: BaseModel) -> bool | None:
    """Every VAT row: base × rate% ≈ tax; and Σ row taxes ≈ tax_total. None if nothing to check.

    Rates are exact by nature ("19 %"), so only the base and tax rounding count.
    """
    rows = getattr(header, "tax_breakdown", None)
    if not rows:
        return None
    verdicts = []
    for row in rows:
        rate, base, tax = _get(row, "rate"), _get(row, "base_amount"), _get(row, "tax_amount")
        if rate is not None and base is not None and tax is not None:
            tol = max(FLOOR, half_ulp(tax) + half_ulp(base) * abs(rate) / 100)
            verdicts.append(abs(base * rate / 100 - tax) <= tol)
    taxes = [_get(row, "tax_amount") for row in rows]
    total = _get(header, "tax_total")
    if total is not None and all(t is not None for t in taxes):
        tol = max(FLOOR, sum((half_ulp(t) for t in taxes), Decimal(0)) + half_ulp(total))  # type: ignore[arg-type]
        verdicts.append(abs(sum(taxes, Decimal(0)) - total) <= tol)  # type: ignore[arg-type]
    return all(verdicts) if verdicts else None


def _line_key(item: BaseModel) -> tuple:
    desc = getattr(item, "description", None)
    desc = " ".join(desc.casefold().split()) if isinstance(desc, str) else None
    return (desc, _get(item, "quantity"), _get(item, "unit_price"), _get(item, "amount"))


def duplicate_lines(items: Sequence[BaseModel], pages: Sequence[int]) -> int:
    """Items equal (description, quantity, unit price, amount) to an item on an earlier page."""
    first_page: dict[tuple, int] = {}
    count = 0
    for item, page in zip(items, pages, strict=True):
        key = _line_key(item)
        if key[3] is None:
            continue
        if key in first_page and first_page[key] < page:
            count += 1
        first_page.setdefault(key, page)
    return count


def confidence(pages_ok: int, page_count: int, line_ok: Sequence[bool | None], sum_ok: bool | None,
               totals_ok: bool | None, duplicates: int, issues: Sequence[Issue],
               tax_ok: bool | None = None, grounded: Sequence[bool | None] = ()) -> float:
    """Heuristic in [0, 1]: parsed-page share × check agreement × (1 − doubt penalty)
    × (1 − UNGROUNDED_COST × share of items not on their page, among those with a verdict).

    Not calibrated against labels; it orders documents for review. With no
    checkable arithmetic the check factor is neutral (0.7), so an unverifiable
    document never outranks one whose numbers reconcile.
    """
    if page_count <= 0 or pages_ok <= 0:
        return 0.0
    terms: list[tuple[float, float]] = []
    checkable = [v for v in line_ok if v is not None]
    if checkable:
        terms.append((1.0, sum(checkable) / len(checkable)))
    for flag in (sum_ok, totals_ok):
        if flag is not None:
            terms.append((1.0, 1.0 if flag else 0.0))
    if tax_ok is not None:
        terms.append((0.5, 1.0 if tax_ok else 0.0))
    if page_count > 1:
        terms.append((0.5, 1.0 if duplicates == 0 else 0.0))
    score = sum(w * s for w, s in terms) / sum(w for w, _ in terms) if terms else 0.5
    doubt = min(MAX_DOUBT, DOUBT_COST * sum(1 for i in issues if i.kind in DOUBT_KINDS))
    known = [g for g in grounded if g is not None]
    ungrounded = sum(1 for g in known if not g) / len(known) if known else 0.0
    value = (pages_ok / page_count) * (0.4 + 0.6 * score) * (1 - doubt) * (1 - UNGROUNDED_COST * ungrounded)
    return round(min(1.0, max(0.0, value)), 4)


def run_checks(header: BaseModel, items: Sequence[BaseModel], item_pages: Sequence[int],
               pages_ok: int, page_count: int, issues: Sequence[Issue]) -> Checks:
    """Every check for one merged document."""
    line_ok = tuple(line_amount_ok(i) for i in items)
    sum_ok = lines_sum_subtotal(items, header)
    totals_ok = subtotal_tax_total(header)
    dups = duplicate_lines(items, item_pages)
    tax_ok = tax_breakdown_ok(header)
    conf = confidence(pages_ok, page_count, line_ok, sum_ok, totals_ok, dups, issues, tax_ok)
    return Checks(line_amount_ok=line_ok, lines_sum_subtotal=sum_ok, subtotal_tax_total=totals_ok,
                  duplicate_lines=dups, tax_breakdown_ok=tax_ok, confidence=conf)


def grounded_confidence(doc: DocumentRecord) -> float:
    """`confidence` of a merged document again, with its grounding verdicts and current issues."""
    c = doc.checks
    grounded = [g.grounded for g in doc.grounding.items] if doc.grounding is not None else []
    return confidence(doc.pages_ok, len(doc.pages), c.line_amount_ok, c.lines_sum_subtotal, c.subtotal_tax_total,
                      c.duplicate_lines, doc.issues, c.tax_breakdown_ok, grounded)
