"""The built-in invoice schema: `Invoice`, its `LineItem`s and per-rate `TaxBreakdown`.

Fields are the intersection of DocILE's KILE/LIR fields, Azure Document
Intelligence's prebuilt invoice and Google Document AI's invoice parser.
Everything is optional except `line_items` (default empty) because a page shows
only part of an invoice. Money is `Decimal` (exact); the model writes numbers as
printed and `raxdoc.postprocess` normalises them before validation. This module
does no parsing and no arithmetic checks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from raxdoc.schemas.types import INTERNAL, CurrencyCode


class LineItem(BaseModel):
    """One billed line as printed on the page."""

    model_config = ConfigDict(extra="ignore")

    description: str | None = None
    product_code: str | None = None
    quantity: Decimal | None = None
    unit: str | None = Field(None, description="unit of measure, e.g. pcs, h, kg")
    unit_price: Decimal | None = None
    discount: Decimal | None = Field(None, description="discount amount on this line")
    tax_rate: Decimal | None = Field(None, description="percent, 19 means 19%")
    tax_amount: Decimal | None = None
    amount: Decimal | None = Field(None, description="line total as printed")
    currency: CurrencyCode | None = None
    date: dt.date | None = None
    page_index: Annotated[int | None, INTERNAL] = None


class TaxBreakdown(BaseModel):
    """One row of the per-rate VAT summary."""

    model_config = ConfigDict(extra="ignore")

    rate: Decimal | None = Field(None, description="percent")
    base_amount: Decimal | None = None
    tax_amount: Decimal | None = None


class Invoice(BaseModel):
    """Header fields plus the line items of one invoice (or one page of it)."""

    model_config = ConfigDict(extra="ignore")

    # The list of billed items (tax_breakdown is a list too, so name it).
    raxdoc_items_field: ClassVar[str] = "line_items"
    # Taken from the last page that has them (a running subtotal on page 1 is
    # superseded by the final one); other header fields come from the first page.
    raxdoc_last_page_fields: ClassVar[tuple[str, ...]] = (
        "subtotal", "discount_total", "tax_total", "total", "amount_due", "tax_breakdown",
    )

    invoice_number: str | None = None
    issue_date: dt.date | None = None
    due_date: dt.date | None = None
    delivery_date: dt.date | None = None
    purchase_order: str | None = None
    vendor_name: str | None = None
    vendor_address: str | None = None
    vendor_tax_id: str | None = None
    customer_name: str | None = None
    customer_address: str | None = None
    customer_tax_id: str | None = None
    customer_id: str | None = None
    currency: CurrencyCode | None = None
    subtotal: Decimal | None = Field(None, description="net total before tax")
    discount_total: Decimal | None = None
    tax_total: Decimal | None = None
    total: Decimal | None = Field(None, description="gross total including tax")
    amount_due: Decimal | None = None
    payment_terms: str | None = None
    iban: str | None = None
    bic: str | None = None
    tax_breakdown: list[TaxBreakdown] = Field(default_factory=list)
    line_items: list[LineItem] = Field(default_factory=list)
