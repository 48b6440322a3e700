"""Synthetic invoice pages for the engine benchmark: deterministic PIL renders, no PDF library.

`invoice_page(seed)` draws a US-letter page (8.5 x 11 in) at `long_side` pixels on its long
side (1,288 by default, ~1,240 visual tokens after the processor's 32-pixel rounding): a header
(seller, buyer, invoice number and date), a table of line items with random descriptions,
quantities and prices printed in one of several locale formats, and totals. The same seed gives
the same pixels. The GPU machine has neither PyMuPDF nor Ray, so pages are drawn, not rendered
from PDFs. Not here: what the model makes of them (random weights), ingest's real rasteriser.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

from PIL import Image, ImageDraw, ImageFont

LETTER_ASPECT = 8.5 / 11.0  # width / height of a US-letter page

_WORDS = ("consulting", "widget", "bracket", "steel", "hours", "licence", "support", "cable", "module",
          "install", "freight", "review", "design", "paper", "toner", "valve", "sensor", "repair")
_NAMES = ("Acme GmbH", "Globex SARL", "Initech Ltd", "Umbrella BV", "Hooli Inc.", "Stark S.p.A.")
_CITIES = ("Berlin", "Lyon", "Leeds", "Utrecht", "Austin", "Milano")


def _format(amount: Decimal, locale: str) -> str:
    """A price as it is printed in `locale`: thousands and decimal separators, currency mark."""
    q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, frac = f"{q:.2f}".split(".")
    groups = f"{int(whole):,}"
    if locale == "de":
        return groups.replace(",", ".") + "," + frac + " EUR"
    if locale == "fr":  # the default font has no narrow no-break space or euro sign
        return groups.replace(",", " ") + "," + frac + " EUR"
    if locale == "ch":
        return "CHF " + groups.replace(",", "'") + "." + frac
    if locale == "uk":
        return "£" + groups + "." + frac
    return "$" + groups + "." + frac


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: scalable
    except (TypeError, OSError):
        return ImageFont.load_default()  # the fixed bitmap font; pages still render


def invoice_page(seed: int, long_side: int = 1288, max_items: int = 24) -> Image.Image:
    """An RGB invoice page, `long_side` px tall, letter width; deterministic from `seed`."""
    if long_side < 200:
        raise ValueError(f"long_side must be >= 200 px, got {long_side}")
    rng = random.Random(seed)
    height, width = long_side, round(long_side * LETTER_ASPECT)
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    unit = height / 1288  # layout scales with the page
    small, body, big = _font(max(8, round(15 * unit))), _font(max(9, round(17 * unit))), _font(
        max(12, round(34 * unit)))
    margin, line = round(60 * unit), round(24 * unit)
    locale = rng.choice(("de", "fr", "ch", "uk", "us"))

    seller, buyer = rng.sample(_NAMES, 2)
    draw.text((margin, margin), "INVOICE", fill="black", font=big)
    y = margin + round(56 * unit)
    for text in (seller, f"{rng.randint(1, 200)} Market Street", f"{rng.randint(10000, 99999)} "
                 f"{rng.choice(_CITIES)}"):
        draw.text((margin, y), text, fill="black", font=body)
        y += line
    right = width // 2 + margin
    fields = (f"Invoice no. INV-{rng.randint(1, 999999):06d}",
              f"Date: {rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.20{rng.randint(18, 26)}",
              f"Bill to: {buyer}", f"Customer ID: C-{rng.randint(100, 9999)}")
    for i, text in enumerate(fields):
        draw.text((right, margin + round(56 * unit) + i * line), text, fill="black", font=body)

    y = margin + round(200 * unit)
    cols = (margin, margin + round(60 * unit), round(width * 0.55), round(width * 0.68), round(width * 0.83))
    for x, head in zip(cols, ("Pos", "Description", "Qty", "Unit price", "Amount")):
        draw.text((x, y), head, fill="black", font=body)
    y += line
    draw.line((margin, y, width - margin, y), fill="black", width=max(1, round(2 * unit)))
    y += round(8 * unit)

    subtotal = Decimal(0)
    n_items = rng.randint(max(1, max_items // 2), max_items)
    for pos in range(1, n_items + 1):
        if y > height - margin - 5 * line:
            break  # no room left: the table stops where a real page would
        qty = rng.randint(1, 40)
        price = Decimal(rng.randint(50, 250000)) / 100
        amount = price * qty
        subtotal += amount
        desc = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 4))).capitalize()
        cells = (str(pos), desc, str(qty), _format(price, locale), _format(amount, locale))
        for x, text in zip(cols, cells):
            draw.text((x, y), text, fill="black", font=small)
        y += line

    y += round(8 * unit)
    draw.line((cols[3], y, width - margin, y), fill="black", width=max(1, round(unit)))
    y += round(10 * unit)
    rate = Decimal(rng.choice((0, 7, 10, 19, 20))) / 100
    tax = subtotal * rate
    for label, value in (("Subtotal", subtotal), (f"Tax {int(rate * 100)}%", tax), ("Total", subtotal + tax)):
        draw.text((cols[3], y), label, fill="black", font=body)
        draw.text((cols[4], y), _format(value, locale), fill="black", font=body)
        y += line
    return page
