"""Small custom schemas used by the schema tests (imported via load_schema)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, Field


class ReceiptLine(BaseModel):
    name: str | None = None
    qty: int | None = None
    price: Decimal | None = None
    amount: Decimal | None = None


class Receipt(BaseModel):
    """A shop receipt: one required header field and an item list under another name."""

    store: str
    purchased_on: dt.date | None = None
    currency: str | None = None
    total: Decimal | None = None
    lines: list[ReceiptLine] = Field(default_factory=list)


class NoList(BaseModel):
    store: str | None = None


class TwoLists(BaseModel):
    a: list[ReceiptLine] = Field(default_factory=list)
    b: list[ReceiptLine] = Field(default_factory=list)


class OddType(BaseModel):
    when: dt.datetime | None = None
    lines: list[ReceiptLine] = Field(default_factory=list)


class Clash(BaseModel):
    status: str | None = None
    lines: list[ReceiptLine] = Field(default_factory=list)


NOT_A_MODEL = 42
