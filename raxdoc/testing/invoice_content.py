"""What a synthetic invoice says: parties, identifiers, dates and line items with exact arithmetic.

Everything is drawn from a `random.Random` handed in, so a seed fixes a document. Values are
exact (`Decimal`, `datetime.date`); an item's amount is quantity x unit price - discount to
the cent by construction (service quantities come in halves and their prices in even cents,
so no rounding ever enters a line). Totals (`totals`) round VAT per rate, half up, as
invoicing software does. Printing these values is `invoice_locale.py`; placing them on a
page is `invoice_layout.py`.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass
from decimal import Decimal

from raxdoc.testing.invoice_locale import CENT, LocaleStyle, round_cents

# (description, kind): kind "g" goods counted in pieces, "s" services billed by the hour.
_CATALOGUE = {
    "en": [("Laptop stand, aluminium", "g"), ("USB-C docking station", "g"), ("Ergonomic office chair", "g"),
           ("Consulting services", "s"), ("Software licence (annual)", "g"), ("Wireless keyboard", "g"),
           ("Printer toner cartridge, black", "g"), ("Network switch 24-port", "g"), ("Installation labour", "s"),
           ("Cloud storage subscription", "g"), ("Monitor 27 inch", "g"), ("Copy paper A4, 500 sheets", "g"),
           ("Project management", "s"), ("Maintenance contract", "g"), ("Data migration support", "s")],
    "de": [("Laptopständer Aluminium", "g"), ("USB-C Dockingstation", "g"), ("Bürostuhl ergonomisch", "g"),
           ("Beratungsleistung", "s"), ("Softwarelizenz (jährlich)", "g"), ("Kabellose Tastatur", "g"),
           ("Druckerpatrone schwarz", "g"), ("Netzwerk-Switch 24 Port", "g"), ("Montagearbeiten", "s"),
           ("Cloud-Speicher Abonnement", "g"), ("Monitor 27 Zoll", "g"), ("Kopierpapier A4, 500 Blatt", "g"),
           ("Projektleitung", "s"), ("Wartungsvertrag", "g"), ("Unterstützung Datenmigration", "s")],
    "fr": [("Support pour ordinateur portable", "g"), ("Station d'accueil USB-C", "g"),
           ("Chaise de bureau ergonomique", "g"), ("Prestation de conseil", "s"),
           ("Licence logicielle (annuelle)", "g"), ("Clavier sans fil", "g"), ("Cartouche d'encre noire", "g"),
           ("Commutateur réseau 24 ports", "g"), ("Travaux d'installation", "s"),
           ("Abonnement stockage en ligne", "g"), ("Écran 27 pouces", "g"), ("Papier A4, 500 feuilles", "g"),
           ("Gestion de projet", "s"), ("Contrat de maintenance", "g"), ("Assistance migration de données", "s")],
}
# Appended to make a description long enough to wrap onto a second line.
_DETAILS = {
    "en": ["incl. on-site installation and configuration", "as per framework agreement of March",
           "delivered to warehouse Building C, gate 4", "with three-year extended warranty",
           "for the period January to March"],
    "de": ["inkl. Installation und Konfiguration vor Ort", "gemäß Rahmenvertrag vom März",
           "Lieferung an Lager Halle C, Tor 4", "mit dreijähriger Garantieverlängerung",
           "für den Zeitraum Januar bis März"],
    "fr": ["y compris installation et configuration sur site", "selon contrat-cadre de mars",
           "livré à l'entrepôt bâtiment C, porte 4", "avec extension de garantie de trois ans",
           "pour la période de janvier à mars"],
}
_UNITS = {"en": {"g": "pcs", "s": "h"}, "de": {"g": "Stk.", "s": "Std."}, "fr": {"g": "pce", "s": "h"}}
_TERMS = {"en": ["Net 30", "Net 14", "Due on receipt"], "de": ["30 Tage netto", "14 Tage netto"],
          "fr": ["Paiement à 30 jours", "Paiement à réception"]}
_COMPANIES = {
    "US": ["Northwind Traders Inc.", "Acme Office Supply LLC", "Bluegrass Analytics Corp.", "Harbor Freight Systems"],
    "GB": ["Thames Valley Supplies Ltd", "Brightwater Consulting Ltd", "Pennine Office Solutions Ltd"],
    "DE": ["Müller & Schmidt GmbH", "Nordlicht Bürotechnik GmbH", "Rheinwerk Systeme AG", "Weber IT-Service KG"],
    "FR": ["Dupont & Fils SARL", "Atelier Lumière SAS", "Bureautique du Rhône SA", "Solutions Garonne SAS"],
    "CH": ["Alpenblick Informatik AG", "Zürcher Bürobedarf GmbH", "Léman Conseil SA"],
}
_STREETS = {
    "US": ["{n} Market Street", "{n} Oak Avenue", "{n} Lakeview Drive"],
    "GB": ["{n} High Street", "{n} Station Road", "{n} Church Lane"],
    "DE": ["Hauptstraße {n}", "Bahnhofstraße {n}", "Lindenweg {n}"],
    "FR": ["{n} rue de la République", "{n} avenue Victor Hugo", "{n} boulevard Voltaire"],
    "CH": ["Bahnhofstrasse {n}", "Seestrasse {n}", "Dorfstrasse {n}"],
}
_CITIES = {
    "US": ["Springfield, IL {z:05d}", "Portland, OR {z:05d}", "Austin, TX {z:05d}"],
    "GB": ["Reading RG{a} {b}AB", "Leeds LS{a} {b}QT", "Bristol BS{a} {b}HX"],
    "DE": ["{z:05d} Berlin", "{z:05d} Köln", "{z:05d} Hamburg"],
    "FR": ["{z:05d} Lyon", "{z:05d} Toulouse", "{z:05d} Nantes"],
    "CH": ["{c:04d} Zürich", "{c:04d} Bern", "{c:04d} Lausanne"],
}
_IBAN_BBAN = {"DE": 18, "FR": 23, "CH": 17}  # all-digit BBAN lengths; GB has a 4-letter bank code


@dataclass(frozen=True)
class Party:
    name: str
    address_lines: tuple[str, ...]  # printed one per line; the truth joins them with ", "
    tax_id: str | None


@dataclass(frozen=True)
class Item:
    """One billed line; `description` is the full text before the layout trims it to two lines."""

    description: str
    product_code: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount: Decimal | None  # amount taken off this line; None when the line has none
    tax_rate: Decimal
    amount: Decimal  # quantity x unit_price - discount, exactly


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def tax_id(rng: random.Random, country: str) -> str:
    if country == "US":
        return f"{_digits(rng, 2)}-{_digits(rng, 7)}"  # EIN
    if country == "CH":
        return f"CHE-{_digits(rng, 3)}.{_digits(rng, 3)}.{_digits(rng, 3)}"
    return country + _digits(rng, {"FR": 11}.get(country, 9))


def iban(rng: random.Random, country: str) -> str:
    """A random IBAN with valid check digits (ISO 13616 mod 97), printed in groups of four."""
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + _digits(rng, 14)
    else:
        bban = _digits(rng, _IBAN_BBAN[country])
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    compact = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def bic(rng: random.Random, country: str) -> str:
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
    return letters + country + rng.choice(["FF", "MM", "2X", "XX"]) + rng.choice(["", "XXX"])


def party(rng: random.Random, country: str, *, with_tax_id: bool) -> Party:
    street = rng.choice(_STREETS[country]).format(n=rng.randint(1, 240))
    city = rng.choice(_CITIES[country]).format(z=rng.randint(10000, 99999), c=rng.randint(1000, 9999),
                                              a=rng.randint(1, 19), b=rng.randint(1, 9))
    return Party(rng.choice(_COMPANIES[country]), (street, city), tax_id(rng, country) if with_tax_id else None)


def item(rng: random.Random, style: LocaleStyle, *, long: bool, mixed_rates: bool, discounts: bool) -> Item:
    """One line; `long` appends a detail clause so the description wraps."""
    lang = style.language
    text, kind = rng.choice(_CATALOGUE[lang])
    if long:
        text = f"{text}, {rng.choice(_DETAILS[lang])}"
    if kind == "s":  # halves of an hour times even cents: exact to the cent
        quantity = Decimal(rng.randint(1, 80)) / 2
        unit_price = Decimal(rng.randint(2250, 9000)) * 2 * CENT
    else:
        if rng.random() < 0.3:  # equipment: dear, few
            quantity, cents = Decimal(rng.randint(1, 5)), rng.randint(10000, 250000)
        else:  # supplies: cheap, by the dozen
            quantity, cents = Decimal(rng.choice([1, 2, 3, 4, 5, 6, 10, 12, 20, 25, 50, 120])), rng.randint(150, 9999)
        unit_price = Decimal(cents) * CENT
    gross = quantity * unit_price
    discount = None
    if discounts and rng.random() < 0.35:
        discount = round_cents(gross * Decimal(rng.choice([5, 10, 15, 20])) / 100)
    rates = style.vat_rates
    rate = rng.choice(rates) if mixed_rates and rng.random() < 0.4 else rates[0]
    code = f"{rng.choice(['A', 'B', 'K', 'SV', 'HW'])}-{rng.randint(1000, 99999)}"
    amount = (gross - (discount or 0)).quantize(CENT)
    return Item(text, code, quantity, _UNITS[lang][kind], unit_price.quantize(CENT), discount, rate, amount)


def totals(items: list[Item]) -> tuple[Decimal, list[tuple[Decimal, Decimal, Decimal]], Decimal, Decimal]:
    """(subtotal, [(rate, base, tax)] by falling rate, tax_total, total); VAT rounded per rate."""
    subtotal = sum((i.amount for i in items), Decimal("0.00"))
    by_rate: dict[Decimal, Decimal] = {}
    for i in items:
        by_rate[i.tax_rate] = by_rate.get(i.tax_rate, Decimal("0.00")) + i.amount
    rows = [(rate, base, round_cents(base * rate / 100)) for rate, base in sorted(by_rate.items(), reverse=True)]
    tax_total = sum((r[2] for r in rows), Decimal("0.00"))
    return subtotal, rows, tax_total, subtotal + tax_total


def dates(rng: random.Random) -> tuple[dt.date, dt.date, dt.date]:
    """(issue, due, delivery)."""
    issue = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 729))
    return issue, issue + dt.timedelta(days=rng.choice([14, 30, 30, 60])), issue - dt.timedelta(
        days=rng.randint(0, 12))


def invoice_number(rng: random.Random, style: LocaleStyle, year: int) -> str:
    prefix = {"en": ["INV-", "INV"], "de": ["RE-", "R"], "fr": ["F", "FA-"]}[style.language]
    return f"{rng.choice(prefix)}{year}-{rng.randint(1, 99999):05d}" if rng.random() < 0.7 else _digits(rng, 8)


def payment_terms(rng: random.Random, style: LocaleStyle) -> str:
    return rng.choice(_TERMS[style.language])
