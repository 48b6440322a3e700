"""CII e-invoices written from a synthetic invoice's truth, for tests: every Factur-X profile and ZUGFeRD 1.0.

    from raxdoc.testing.einvoice_cii import write_cii, embed
    sample = write_cii(generate_invoice(7).truth, "EN16931")   # sample.xml (bytes), sample.expected (dict)
    pdf = embed(inv.pdf, sample.xml)                             # factur-x.xml inside the PDF (factur-x lib)

`expected` is what a reader must return, under `Invoice` field names: the truth's values where the
profile carries them, plus what the XML knows and the page may not print (unit codes: pcs/Stk./pce ->
H87, h/Std. -> HUR, none printed -> C62). Options: `credit_note` (type 381, amounts as they are),
`allowance` / `charge` (document level, on the first VAT rate; taxes and totals recomputed),
`group_lines` (EXTENDED: the first two items become DETAIL sub-lines of a GROUP line, and an
INFORMATION line is added; neither extra line is an item), `price_base` (prices of every other line
written per that many units). ZUGFeRD 1.0 is the COMFORT profile of `CrossIndustryDocument`.

Not here: reading (raxdoc.ingest.einvoice), UBL (`einvoice_ubl.py`), the invoice itself (`invoices.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from raxdoc.testing.einvoice_cii_parts import CII_NAMES, ZF1_NAMES, Names, party_parts

GUIDELINES = {
    "MINIMUM": "urn:factur-x.eu:1p0:minimum",
    "BASIC WL": "urn:factur-x.eu:1p0:basicwl",
    "BASIC": "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
    "EN16931": "urn:cen.eu:en16931:2017",
    "EXTENDED": "urn:cen.eu:en16931:2017#conformant#urn:factur-x.eu:1p0:extended",
    "XRECHNUNG": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    "ZUGFeRD1": "urn:ferd:CrossIndustryDocument:invoice:1p0:comfort",
}
PROFILES = tuple(GUIDELINES)
# factur-x's level names, for its XSD check.
FACTURX_LEVELS = {"MINIMUM": "minimum", "BASIC WL": "basicwl", "BASIC": "basic", "EN16931": "en16931",
                  "EXTENDED": "extended", "XRECHNUNG": "en16931"}
_UNIT_CODES = {"pcs": "H87", "stk.": "H87", "pce": "H87", "h": "HUR", "std.": "HUR"}
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class CiiSample:
    xml: bytes
    expected: dict  # Invoice field names -> the values a reader must return (Decimal / date strings)
    profile: str


def _d(value: object) -> Decimal:
    return Decimal(str(value))


def _lines(truth: dict, with_code: bool) -> list[dict]:
    single = truth["tax_breakdown"][0]["rate"] if len(truth["tax_breakdown"]) == 1 else None
    out = []
    for it in truth["line_items"]:
        out.append({"description": it["description"], "product_code": it.get("product_code") if with_code else None,
                    "quantity": _d(it["quantity"]), "unit": _UNIT_CODES.get(str(it.get("unit", "")).casefold(), "C62"),
                    "unit_price": _d(it["unit_price"]), "tax_rate": _d(it.get("tax_rate", single)),
                    "discount": _d(it["discount"]) if it.get("discount") is not None else None,
                    "amount": _d(it["amount"])})
    return out


def _money(truth: dict, allowance: Decimal | None, charge: Decimal | None) -> dict:
    """Breakdown and totals, after document allowance/charge on the first rate (VAT rounded half up)."""
    rows = [{k: _d(v) for k, v in r.items()} for r in truth["tax_breakdown"]]
    adjust = (allowance or Decimal(0)) - (charge or Decimal(0))
    if adjust:
        first = rows[0]
        first["base_amount"] -= adjust
        first["tax_amount"] = (first["base_amount"] * first["rate"] / 100).quantize(_CENT, ROUND_HALF_UP)
    subtotal = _d(truth["subtotal"])
    tax_total = sum((r["tax_amount"] for r in rows), Decimal("0.00"))
    basis = subtotal - adjust
    return {"rows": rows, "subtotal": subtotal, "basis": basis, "tax_total": tax_total, "total": basis + tax_total,
            "discount_total": adjust if (allowance or charge) else None, "allowance": allowance, "charge": charge}


def write_cii(truth: dict, profile: str, *, credit_note: bool = False, allowance: Decimal | str | None = None,
              charge: Decimal | str | None = None, group_lines: bool = False, price_base: int | None = None,
              ) -> CiiSample:
    """CII (or ZUGFeRD 1.0) XML for `truth` in `profile` (one of PROFILES), and the values it carries."""
    if profile not in GUIDELINES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    minimum, no_lines = profile == "MINIMUM", profile in ("MINIMUM", "BASIC WL")
    full = profile not in ("MINIMUM", "BASIC WL", "BASIC")  # product codes, BIC
    if minimum and (allowance or charge):
        raise ValueError("MINIMUM carries no allowances or charges")
    if group_lines and profile != "EXTENDED":
        raise ValueError("sub-lines exist in EXTENDED only")
    lines = [] if no_lines else _lines(truth, with_code=full)
    money = _money(truth, _d(allowance) if allowance else None, _d(charge) if charge else None)
    country = truth["meta"]["locale"].split("_")[1]
    names = ZF1_NAMES if profile == "ZUGFeRD1" else CII_NAMES
    doc = {
        "profile": profile, "minimum": minimum, "full": full, "country": country, "credit_note": credit_note,
        "lines": lines, "money": money, "group_lines": group_lines, "price_base": price_base,
        "vendor": party_parts(truth.get("vendor_name"), truth.get("vendor_address"), truth.get("vendor_tax_id"),
                              country, None),
        "customer": party_parts(truth.get("customer_name"), truth.get("customer_address"),
                                None if minimum else truth.get("customer_tax_id"), country,
                                None if minimum else truth.get("customer_id")),
    }
    root = names.build(truth, doc, GUIDELINES[profile])
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    expected = _expected(truth, doc)
    return CiiSample(xml, expected, profile)


def _expected(truth: dict, doc: dict) -> dict:
    money, minimum = doc["money"], doc["minimum"]
    out: dict = {k: truth.get(k) for k in ("invoice_number", "issue_date", "currency", "vendor_name",
                                           "vendor_tax_id", "customer_name", "purchase_order")}
    out.update(subtotal=money["subtotal"] if not minimum else money["basis"], tax_total=money["tax_total"],
               total=money["total"], amount_due=money["total"], discount_total=money["discount_total"])
    if not minimum:
        for k in ("vendor_address", "customer_address", "customer_tax_id", "customer_id", "delivery_date",
                  "due_date", "payment_terms"):
            out[k] = truth.get(k)
        out["iban"] = truth["iban"].replace(" ", "") if truth.get("iban") else None
        out["bic"] = truth.get("bic") if doc["full"] and truth.get("iban") else None
        out["tax_breakdown"] = money["rows"]
    out["line_items"] = [dict(line) for line in doc["lines"]]
    return out


def xsd_errors(sample: CiiSample) -> list[str]:
    """What the official XSD (shipped with the factur-x library) says about `sample.xml`; [] when valid."""
    from facturx.facturx import xml_check_xsd  # test-only dependency

    try:
        if sample.profile == "ZUGFeRD1":
            xml_check_xsd(sample.xml, flavor="zugferd")
        else:
            xml_check_xsd(sample.xml, flavor="factur-x", level=FACTURX_LEVELS[sample.profile])
    except Exception as exc:  # noqa: BLE001 - the library raises a bare Exception with the XSD's message
        return [str(exc)]
    return []


def embed(pdf: bytes, xml: bytes, name: str = "factur-x.xml", *, library: str = "facturx") -> bytes:
    """`pdf` with `xml` attached as `name`: through factur-x (a Factur-X PDF/A-3 with /AF and XMP; only
    for a Factur-X XML named factur-x.xml) or PyMuPDF's embfile_add (any name, any XML)."""
    if library == "facturx":
        from facturx import generate_from_binary  # test-only dependency

        if name != "factur-x.xml":
            raise ValueError("factur-x always names the attachment factur-x.xml")
        return generate_from_binary(pdf, xml, check_xsd=False)
    import pymupdf

    doc = pymupdf.open(stream=pdf, filetype="pdf")
    doc.embfile_add(name, xml, filename=name, ufilename=name, desc="invoice data")
    return doc.tobytes()


def with_bad_number(xml: bytes, element: str = "GrandTotalAmount", value: str = "12,50") -> bytes:
    """`xml` with the first `element` holding `value` instead (for the error path)."""
    return re.sub(rf"(<ram:{element}[^>]*>)[^<]*", lambda m: m.group(1) + value, xml.decode(), count=1).encode()
