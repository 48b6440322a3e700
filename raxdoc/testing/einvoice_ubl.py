"""UBL 2.1 e-invoices written from a synthetic invoice's truth record, for tests and benchmarks.

    from raxdoc.testing.invoices import generate_invoice
    from raxdoc.testing.einvoice_ubl import ubl_from_truth
    doc = ubl_from_truth(generate_invoice(7).truth, credit_note=True, allowance=Decimal("10.00"))
    doc.xml        # bytes of a UBL Invoice / CreditNote (XRechnung 3.0 or Peppol BIS 3.0 CustomizationID)
    doc.expected   # the Invoice fields that XML states; Invoice.model_validate(doc.expected) reads it

The XML states the truth's values (`raxdoc.testing.invoices`) plus what UBL needs and the truth
does not print: a unit code on every quantity (Rec 20: pieces H87, hours HUR, C62 "one" when the
table had no unit column), the tax rate on every line (the one rate when the table had no rate
column), PayableAmount (= total), the IBAN without its print spaces. Options add what the truth
never has, and `expected` follows: a document allowance and a charge (both at the first VAT
rate; its base and tax, tax_total, total recomputed, VAT rounded half up), prices per base
quantity, and sub-lines (XRechnung's extension: the first line becomes a group of two sub-lines,
"Part one" and "Part two", 1 x C62 each, halving its amount; the reader, and so `expected`, lists
the two sub-lines in its place). Parties' city lines are split into UBL's parts by the seller's
locale (US "City, ST 12345", GB "City POSTCODE", else "12345 City"); both parties are in its country.

Not here: reading (raxdoc.ingest.einvoice.ubl), CII (einvoice_cii.py), validation against the XSD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from raxdoc.ingest.einvoice.ubl import CAC, CBC, CREDIT_NOTE_NS, INVOICE_NS
from raxdoc.testing.invoice_locale import STYLES, round_cents

CUSTOMIZATIONS = {
    "xrechnung": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    "peppol": "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
}
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
UNIT_CODES = {"pcs": "H87", "Stk.": "H87", "pce": "H87", "h": "HUR", "Std.": "HUR"}
_HEADER = ("invoice_number", "issue_date", "due_date", "delivery_date", "purchase_order", "customer_id",
           "currency", "vendor_name", "vendor_address", "vendor_tax_id", "customer_name", "customer_address",
           "customer_tax_id", "subtotal", "tax_total", "total", "payment_terms", "iban", "bic", "tax_breakdown")
_ITEM = ("description", "product_code", "quantity", "unit", "unit_price", "discount", "tax_rate", "amount")


@dataclass(frozen=True)
class UblDocument:
    xml: bytes
    expected: dict  # Invoice field values (strings, as in a truth record) that the XML states


def _el(parent, ns: str, tag: str, text: object = None, **attrs: str):
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        el.text = format(text, "f") if isinstance(text, Decimal) else str(text)
    return el


def _split_city(line: str, country: str) -> dict[str, str]:
    """The printed city line as UBL's CityName / PostalZone / CountrySubentity."""
    if country in ("US", "CA", "AU"):
        city, _, rest = line.partition(", ")
        sub, _, zone = rest.rpartition(" ")
        return {"CityName": city, "CountrySubentity": sub, "PostalZone": zone}
    if country in ("GB", "IE"):
        city, _, zone = line.partition(" ")
        return {"CityName": city, "PostalZone": zone}
    m = re.fullmatch(r"(\d+) (.+)", line)
    return {"PostalZone": m[1], "CityName": m[2]} if m else {"CityName": line}


def _party(parent, tag: str, name: str | None, address: str | None, tax_id: str | None,
           country: str, party_id: str | None = None) -> None:
    party = _el(_el(parent, CAC, tag), CAC, "Party")
    if party_id:
        _el(_el(party, CAC, "PartyIdentification"), CBC, "ID", party_id)
    if name:
        _el(_el(party, CAC, "PartyName"), CBC, "Name", name)
    postal = _el(party, CAC, "PostalAddress")
    if address:
        street, _, city = address.partition(", ")
        _el(postal, CBC, "StreetName", street)
        parts = _split_city(city, country)
        for part in ("CityName", "PostalZone", "CountrySubentity"):  # UBL's element order
            if parts.get(part):
                _el(postal, CBC, part, parts[part])
    _el(_el(postal, CAC, "Country"), CBC, "IdentificationCode", country)
    if tax_id:
        scheme = _el(party, CAC, "PartyTaxScheme")
        _el(scheme, CBC, "CompanyID", tax_id)
        _el(_el(scheme, CAC, "TaxScheme"), CBC, "ID", "VAT")
    if name:
        _el(_el(party, CAC, "PartyLegalEntity"), CBC, "RegistrationName", name)


def _category(parent, tag: str, rate: Decimal) -> None:
    cat = _el(parent, CAC, tag)
    _el(cat, CBC, "ID", "S" if rate else "Z")
    _el(cat, CBC, "Percent", rate)
    _el(_el(cat, CAC, "TaxScheme"), CBC, "ID", "VAT")


def _allowance(parent, charge: bool, amount: Decimal, currency: str, rate: Decimal | None) -> None:
    ac = _el(parent, CAC, "AllowanceCharge")
    _el(ac, CBC, "ChargeIndicator", "true" if charge else "false")
    _el(ac, CBC, "AllowanceChargeReason", "Freight" if charge else "Discount")
    _el(ac, CBC, "Amount", amount, currencyID=currency)
    if rate is not None:
        _category(ac, "TaxCategory", rate)


def _line(parent, tag: str, qty_tag: str, index: object, item: dict, currency: str,
          base_quantity: Decimal | None, subs: tuple[str, list[dict]] | None = None) -> None:
    line = _el(parent, CAC, tag)
    _el(line, CBC, "ID", index)
    _el(line, CBC, qty_tag, Decimal(item["quantity"]), unitCode=item["unit"])
    _el(line, CBC, "LineExtensionAmount", Decimal(item["amount"]), currencyID=currency)
    if item.get("discount") is not None:
        _allowance(line, False, Decimal(item["discount"]), currency, None)
    it = _el(line, CAC, "Item")
    _el(it, CBC, "Name", item["description"])
    if item.get("product_code"):
        _el(_el(it, CAC, "SellersItemIdentification"), CBC, "ID", item["product_code"])
    _category(it, "ClassifiedTaxCategory", Decimal(item["tax_rate"]))
    price = _el(line, CAC, "Price")
    unit_price = Decimal(item["unit_price"])
    if base_quantity is None:
        _el(price, CBC, "PriceAmount", unit_price, currencyID=currency)
    else:
        _el(price, CBC, "PriceAmount", unit_price * base_quantity, currencyID=currency)
        _el(price, CBC, "BaseQuantity", base_quantity, unitCode=item["unit"])
    if subs:
        for k, sub in enumerate(subs[1], start=1):
            _line(line, subs[0], qty_tag, f"{index}.{k}", sub, currency, None)


def _halves(item: dict) -> list[dict]:
    """Two sub-lines (1 x C62 each, the parent's rate) whose amounts sum to `item`'s."""
    amount = Decimal(item["amount"])
    half = round_cents(amount / 2)
    return [{"description": name, "quantity": "1", "unit": "C62", "unit_price": str(a), "amount": str(a),
             "tax_rate": item["tax_rate"]} for name, a in (("Part one", half), ("Part two", amount - half))]


def _expected(truth: dict) -> dict:
    out = {k: truth[k] for k in _HEADER if k in truth}
    out["tax_breakdown"] = [dict(row) for row in truth["tax_breakdown"]]
    if "iban" in out:
        out["iban"] = out["iban"].replace(" ", "")
    only_rate = truth["tax_breakdown"][0]["rate"] if len(truth["tax_breakdown"]) == 1 else None
    lines = []
    for row in truth["line_items"]:
        item = {k: row[k] for k in _ITEM if k in row}
        item["unit"] = UNIT_CODES[row["unit"]] if "unit" in row else "C62"
        if "tax_rate" not in item:
            if only_rate is None:  # the generator never does this: mixed rates bring the rate column
                raise ValueError("a line without a rate on an invoice with several rates")
            item["tax_rate"] = only_rate
        lines.append(item)
    out["line_items"] = lines
    return out


def ubl_from_truth(truth: dict, *, credit_note: bool = False, customization: str = "xrechnung",
                   allowance: Decimal | None = None, charge: Decimal | None = None,
                   base_quantity: Decimal | None = None, sub_lines: bool = False) -> UblDocument:
    """A UBL Invoice (or CreditNote) stating `truth`'s values; see the module docstring for options."""
    country = STYLES[truth["meta"]["locale"]].country
    exp = _expected(truth)
    cur = exp["currency"]
    subtotal = Decimal(exp["subtotal"])
    if allowance is not None or charge is not None:
        row = exp["tax_breakdown"][0]
        base = Decimal(row["base_amount"]) - (allowance or 0) + (charge or 0)
        row.update(base_amount=str(base), tax_amount=str(round_cents(base * Decimal(row["rate"]) / 100)))
        exp["discount_total"] = str((allowance or Decimal(0)) - (charge or Decimal(0)))
        exp["tax_total"] = str(sum(Decimal(r["tax_amount"]) for r in exp["tax_breakdown"]))
    exclusive = subtotal - Decimal(exp.get("discount_total", "0"))
    exp["total"] = str(exclusive + Decimal(exp["tax_total"]))
    exp["amount_due"] = exp["total"]

    root_ns, root_tag = (CREDIT_NOTE_NS, "CreditNote") if credit_note else (INVOICE_NS, "Invoice")
    root = etree.Element(f"{{{root_ns}}}{root_tag}", nsmap={None: root_ns, "cac": CAC, "cbc": CBC})
    _el(root, CBC, "CustomizationID", CUSTOMIZATIONS[customization])
    _el(root, CBC, "ProfileID", PROFILE_ID)
    _el(root, CBC, "ID", exp["invoice_number"])
    _el(root, CBC, "IssueDate", exp["issue_date"])
    if not credit_note and "due_date" in exp:
        _el(root, CBC, "DueDate", exp["due_date"])
    _el(root, CBC, "CreditNoteTypeCode" if credit_note else "InvoiceTypeCode", "381" if credit_note else "380")
    _el(root, CBC, "DocumentCurrencyCode", cur)
    _el(root, CBC, "BuyerReference", "04011000-12345-03")  # XRechnung's Leitweg-ID (BT-10) is mandatory
    if "purchase_order" in exp:
        _el(_el(root, CAC, "OrderReference"), CBC, "ID", exp["purchase_order"])
    _party(root, "AccountingSupplierParty", exp.get("vendor_name"), truth.get("vendor_address"),
           exp.get("vendor_tax_id"), country)
    _party(root, "AccountingCustomerParty", exp.get("customer_name"), truth.get("customer_address"),
           exp.get("customer_tax_id"), country, exp.get("customer_id"))
    if "delivery_date" in exp:
        _el(_el(root, CAC, "Delivery"), CBC, "ActualDeliveryDate", exp["delivery_date"])
    due_in_means = credit_note and "due_date" in exp and "iban" in exp
    if "iban" in exp:
        means = _el(root, CAC, "PaymentMeans")
        _el(means, CBC, "PaymentMeansCode", "58")  # SEPA credit transfer
        if due_in_means:  # UBL 2.1 CreditNote has no DueDate: Peppol puts it here
            _el(means, CBC, "PaymentDueDate", exp["due_date"])
        account = _el(means, CAC, "PayeeFinancialAccount")
        _el(account, CBC, "ID", exp["iban"])
        if "bic" in exp:
            _el(_el(account, CAC, "FinancialInstitutionBranch"), CBC, "ID", exp["bic"])
    due_in_terms = credit_note and "due_date" in exp and not due_in_means
    if "payment_terms" in exp or due_in_terms:
        terms = _el(root, CAC, "PaymentTerms")
        if "payment_terms" in exp:
            _el(terms, CBC, "Note", exp["payment_terms"])
        if due_in_terms:
            _el(terms, CBC, "PaymentDueDate", exp["due_date"])
    first_rate = Decimal(exp["tax_breakdown"][0]["rate"])
    for is_charge, amount in ((False, allowance), (True, charge)):
        if amount is not None:
            _allowance(root, is_charge, amount, cur, first_rate)
    tax = _el(root, CAC, "TaxTotal")
    _el(tax, CBC, "TaxAmount", Decimal(exp["tax_total"]), currencyID=cur)
    for row in exp["tax_breakdown"]:
        sub = _el(tax, CAC, "TaxSubtotal")
        _el(sub, CBC, "TaxableAmount", Decimal(row["base_amount"]), currencyID=cur)
        _el(sub, CBC, "TaxAmount", Decimal(row["tax_amount"]), currencyID=cur)
        _category(sub, "TaxCategory", Decimal(row["rate"]))
    money = _el(root, CAC, "LegalMonetaryTotal")
    amounts = [("LineExtensionAmount", subtotal), ("TaxExclusiveAmount", exclusive),
               ("TaxInclusiveAmount", Decimal(exp["total"])), ("AllowanceTotalAmount", allowance),
               ("ChargeTotalAmount", charge), ("PayableAmount", Decimal(exp["amount_due"]))]
    for name, value in amounts:
        if value is not None:
            _el(money, CBC, name, value, currencyID=cur)
    tag, qty_tag = ("CreditNoteLine", "CreditedQuantity") if credit_note else ("InvoiceLine", "InvoicedQuantity")
    lines = list(exp["line_items"])
    for i, item in enumerate(lines, start=1):
        subs = ("Sub" + tag, _halves(item)) if sub_lines and i == 1 else None
        _line(root, tag, qty_tag, i, item, cur, base_quantity, subs)
    if sub_lines:
        exp["line_items"] = _halves(lines[0]) + lines[1:]
    return UblDocument(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True), exp)
