"""How a synthetic invoice prints numbers, dates and labels in each locale it supports.

`STYLES` holds one `LocaleStyle` per locale (en_US, en_GB, de_DE, fr_FR, de_CH): separators,
numeric and month-name date forms, paper size, VAT rates, default currency and the label
words of its language. The `fmt_*` functions turn exact values into the strings drawn on the
page; they are written out here rather than taken from babel so the printed forms are fixed
by this file (a babel upgrade must not change a test corpus). No parsing (that is
`raxdoc.postprocess`, which these strings exercise) and no drawing (`invoice_layout.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre"),
}

_LABELS = {
    "en": {"title": "INVOICE", "invoice_number": "Invoice no.", "issue_date": "Invoice date",
           "due_date": "Due date", "delivery_date": "Delivery date", "purchase_order": "PO number",
           "customer_id": "Customer no.", "currency": "Currency", "bill_to": "Bill to",
           "vendor_tax_id": "VAT no.", "customer_tax_id": "Customer VAT no.", "pos": "#",
           "product_code": "Item", "description": "Description", "quantity": "Qty", "unit": "Unit",
           "unit_price": "Unit price", "discount": "Discount", "tax_rate": "VAT", "amount": "Amount",
           "subtotal": "Subtotal", "tax_row": "VAT {rate} on {base}", "tax_total": "Total VAT",
           "total": "Total", "payment_terms": "Payment terms", "iban": "IBAN", "bic": "BIC",
           "page": "Page {i} of {n}", "continued": "Invoice {number} (continued)",
           "carried": "Carried forward", "brought": "Brought forward"},
    "en_US": {"vendor_tax_id": "EIN", "customer_tax_id": "Customer EIN", "tax_rate": "Tax",
              "tax_row": "Sales tax {rate} on {base}", "tax_total": "Total tax"},
    "de": {"title": "RECHNUNG", "invoice_number": "Rechnungsnr.", "issue_date": "Rechnungsdatum",
           "due_date": "Fällig am", "delivery_date": "Lieferdatum", "purchase_order": "Bestellnr.",
           "customer_id": "Kundennr.", "currency": "Währung", "bill_to": "Rechnungsempfänger",
           "vendor_tax_id": "USt-IdNr.", "customer_tax_id": "USt-IdNr. Kunde", "pos": "Pos.",
           "product_code": "Art.-Nr.", "description": "Bezeichnung", "quantity": "Menge",
           "unit": "Einheit", "unit_price": "Einzelpreis", "discount": "Rabatt", "tax_rate": "USt.",
           "amount": "Betrag", "subtotal": "Nettobetrag", "tax_row": "USt. {rate} auf {base}",
           "tax_total": "Summe USt.", "total": "Gesamtbetrag", "payment_terms": "Zahlungsbedingungen",
           "iban": "IBAN", "bic": "BIC", "page": "Seite {i} von {n}",
           "continued": "Rechnung {number} (Fortsetzung)", "carried": "Übertrag", "brought": "Übertrag"},
    "fr": {"title": "FACTURE", "invoice_number": "Facture n°", "issue_date": "Date de facture",
           "due_date": "Échéance", "delivery_date": "Date de livraison", "purchase_order": "Bon de commande",
           "customer_id": "Réf. client", "currency": "Devise", "bill_to": "Facturé à",
           "vendor_tax_id": "N° TVA", "customer_tax_id": "N° TVA client", "pos": "N°",
           "product_code": "Réf.", "description": "Désignation", "quantity": "Qté", "unit": "Unité",
           "unit_price": "Prix unit.", "discount": "Remise", "tax_rate": "TVA", "amount": "Montant",
           "subtotal": "Total HT", "tax_row": "TVA {rate} sur {base}", "tax_total": "Total TVA",
           "total": "Total TTC", "payment_terms": "Conditions de paiement", "iban": "IBAN", "bic": "BIC",
           "page": "Page {i} sur {n}", "continued": "Facture {number} (suite)",
           "carried": "A reporter", "brought": "Report"},
}


@dataclass(frozen=True)
class LocaleStyle:
    """Printing conventions of one locale."""

    code: str  # "de_DE": also the locale hint handed to raxdoc.postprocess
    language: str  # key of the label and month tables (labels may be overridden per locale code)
    decimal: str  # decimal mark
    group: str  # thousands separator ("\u202f" narrow no-break space keeps "1 234,56" one word)
    numeric_date: str  # strftime pattern of the numeric date form
    named_date: str  # "MDY" "Dec 26, 2025" / "DMY" "26 Dec 2025" / "DMY." "26. Dezember 2025"
    percent_space: bool  # "19 %" rather than "19%"
    paper: tuple[float, float]  # page size in points
    currency: str  # ISO code used when none is asked for
    vat_rates: tuple[Decimal, ...]  # rates an item may carry, the standard rate first
    abbreviate_months: bool  # "Dec" rather than "December"
    country: str  # ISO country of parties and IBANs
    labels: dict[str, str] = field(repr=False, default_factory=dict)


def _style(code: str, language: str, decimal: str, group: str, numeric_date: str, named_date: str,
           percent_space: bool, paper: tuple[float, float], currency: str, rates: tuple[str, ...],
           abbreviate: bool, country: str) -> LocaleStyle:
    return LocaleStyle(code, language, decimal, group, numeric_date, named_date, percent_space, paper,
                       currency, tuple(Decimal(r) for r in rates), abbreviate, country,
                       {**_LABELS[language], **_LABELS.get(code, {})})


A4, LETTER = (595.0, 842.0), (612.0, 792.0)
STYLES: dict[str, LocaleStyle] = {
    s.code: s for s in (
        _style("en_US", "en", ".", ",", "%m/%d/%Y", "MDY", False, LETTER, "USD", ("8.875", "0"), True, "US"),
        _style("en_GB", "en", ".", ",", "%d/%m/%Y", "DMY", False, A4, "GBP", ("20", "5", "0"), True, "GB"),
        _style("de_DE", "de", ",", ".", "%d.%m.%Y", "DMY.", True, A4, "EUR", ("19", "7"), False, "DE"),
        _style("fr_FR", "fr", ",", "\u202f", "%d/%m/%Y", "DMY", True, A4, "EUR", ("20", "10", "5.5"),
               False, "FR"),
        _style("de_CH", "de", ".", "'", "%d.%m.%Y", "DMY.", False, A4, "CHF", ("8.1", "2.6"), False, "CH"),
    )
}
CURRENCIES = ("USD", "EUR", "GBP", "CHF")


def round_cents(value: Decimal) -> Decimal:
    """Commercial rounding to cents, as invoicing software does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_number(value: Decimal, style: LocaleStyle, places: int | None = None) -> str:
    """`value` with the locale's separators; `places` None keeps the value's own decimals."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole, _, frac = text.partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = style.group.join(groups)
    return sign + (out + style.decimal + frac if frac else out)


def fmt_money(value: Decimal, style: LocaleStyle) -> str:
    return fmt_number(value, style, 2)


def fmt_rate(rate: Decimal, style: LocaleStyle) -> str:
    """A VAT rate as printed: "19%", "19 %", "5,5 %", "8.1%"."""
    return fmt_number(rate, style) + (" %" if style.percent_space else "%")


def fmt_date(value: dt.date, style: LocaleStyle, *, named: bool) -> str:
    """Numeric ("26.12.2025") or with the month's name ("Dec 26, 2025", "26. Dezember 2025")."""
    if not named:
        return value.strftime(style.numeric_date)
    month = _MONTHS[style.language][value.month - 1]
    if style.abbreviate_months and len(month) > 4:
        month = month[:3]
    if style.named_date == "MDY":
        return f"{month} {value.day}, {value.year}"
    if style.named_date == "DMY.":
        return f"{value.day}. {month} {value.year}"
    return f"{value.day} {month} {value.year}"


def norm(value: Decimal) -> str:
    """The truth form of a decimal: plain digits, "." decimal, printed precision ("1234.50", "19")."""
    return format(value, "f")
