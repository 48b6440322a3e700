"""The UBL reader: a UBL 2.1 `Invoice` or `CreditNote` tree (XRechnung UBL, Peppol BIS Billing 3.0,
any EN 16931 UBL) mapped exactly onto `raxdoc.schemas.invoice.Invoice`, as an `EInvoice`.

The decisions are the CII reader's (cii.py), so both syntaxes give the same record; value parsing,
addresses and profile names are shared (values.py, guideline.py). Field by field:
- invoice_number `ID`, issue_date `IssueDate`; due_date `DueDate`, else `PaymentMeans/PaymentDueDate`
  (a UBL 2.1 CreditNote has no DueDate), else `PaymentTerms/PaymentDueDate`; delivery_date
  `Delivery/ActualDeliveryDate`; purchase_order `OrderReference/ID`; currency `DocumentCurrencyCode`.
- credit notes (a `CreditNote` root, or a credit type code such as 381): amounts as written,
  `is_credit_note` set (record.py's convention).
- parties: `PartyName/Name`, else `PartyLegalEntity/RegistrationName`; address = StreetName,
  AdditionalStreetName, AddressLine/Line, then the city line as the country prints it, joined with
  ", " (values.join_address); tax id = the `VAT` PartyTaxScheme's CompanyID, else the first;
  customer_id = the buyer's `CustomerAssignedAccountID`, else its `PartyIdentification/ID`.
- lines: description = `Item/Name`, then `Item/Description` after one space when it says more
  (values.item_description, CII's rule too);
  product_code = `SellersItemIdentification/ID`; quantity + unit = `InvoicedQuantity` /
  `CreditedQuantity` and its Rec 20 `unitCode` as written ("H87", "HUR"); unit_price = the net
  `Price/PriceAmount` divided by `Price/BaseQuantity` when that is not 1 (a note says so; over 6
  decimals it is rounded, noted); discount = line allowances minus line charges (None without
  either); tax_rate = `Item/ClassifiedTaxCategory/Percent`; amount = `LineExtensionAmount`.
- sub-lines (`SubInvoiceLine` / `SubCreditNoteLine`, XRechnung's extension): a line that has them
  is a group (its amount is their sum), so it is not an item and a note names it; its sub-lines
  are items of their own, in document order, recursively. Σ item amounts = subtotal still holds.
- totals: subtotal = `LegalMonetaryTotal/LineExtensionAmount`; discount_total = document
  allowances minus document charges (`AllowanceTotalAmount` − `ChargeTotalAmount`, else the
  `AllowanceCharge` elements; a charge is a negative discount, noted; None without either);
  tax_total = the `TaxTotal/TaxAmount` in the document currency; total = `TaxInclusiveAmount`;
  amount_due = `PayableAmount`; tax_breakdown = that TaxTotal's `TaxSubtotal` rows.
  Totals that do not add up are read as stated: the checks downstream report them.
- payment: payment_terms = the `PaymentTerms/Note`s joined with "; "; iban/bic = the first
  PaymentMeans with a `PayeeFinancialAccount` (`ID`, `FinancialInstitutionBranch/ID`), as written.

Not here: parsing bytes (`xml.py`), finding the XML in a PDF (`attachments.py`), CII (`cii.py`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree
from pydantic import ValidationError

from raxdoc.ingest.einvoice.cii import CREDIT_NOTE_CODES
from raxdoc.ingest.einvoice.guideline import profile_of
from raxdoc.ingest.einvoice.record import EInvoice, EInvoiceError
from raxdoc.ingest.einvoice.values import date_of, decimal_of, describe, item_description, join_address, text_of
from raxdoc.schemas.invoice import Invoice

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}
_MAX_PRICE_PLACES = Decimal("0.000001")  # the Arrow decimal scale (schemas/types.py)


class _Reader:
    """One document's walk: typed look-ups under a node, and the notes gathered on the way."""

    def __init__(self, source: str, credit: bool) -> None:
        self.source = source
        self.notes: list[tuple[str, str]] = []
        self.line_tag, self.sub_tag, self.qty_tag = (
            ("cac:CreditNoteLine", "cac:SubCreditNoteLine", "cbc:CreditedQuantity") if credit
            else ("cac:InvoiceLine", "cac:SubInvoiceLine", "cbc:InvoicedQuantity"))

    def find(self, node: etree._Element | None, path: str) -> etree._Element | None:
        return None if node is None else node.find(path, NS)

    def findall(self, node: etree._Element | None, path: str) -> list[etree._Element]:
        return [] if node is None else node.findall(path, NS)

    def text(self, node: etree._Element | None, path: str) -> str | None:
        return text_of(self.find(node, path))

    def dec(self, node: etree._Element | None, path: str) -> Decimal | None:
        return decimal_of(self.find(node, path), self.source)

    def date(self, node: etree._Element | None, path: str):
        return date_of(self.find(node, path), self.source)

    def party(self, node: etree._Element | None) -> dict[str, str | None]:
        party = self.find(node, "cac:Party")
        addr = self.find(party, "cac:PostalAddress")
        lines = [self.text(addr, "cbc:StreetName"), self.text(addr, "cbc:AdditionalStreetName")]
        lines += [self.text(line, "cbc:Line") for line in self.findall(addr, "cac:AddressLine")]
        address = join_address(lines, self.text(addr, "cbc:PostalZone"), self.text(addr, "cbc:CityName"),
                               self.text(addr, "cbc:CountrySubentity"),
                               self.text(addr, "cac:Country/cbc:IdentificationCode"))
        # A seller may state a VAT id and a local tax number (BT-31, BT-32): the VAT id is the one printed.
        schemes = [s for s in self.findall(party, "cac:PartyTaxScheme") if self.text(s, "cbc:CompanyID")]
        vat = next((s for s in schemes if self.text(s, "cac:TaxScheme/cbc:ID") == "VAT"), None)
        tax_id = self.text(vat if vat is not None else (schemes[0] if schemes else None), "cbc:CompanyID")
        name = (self.text(party, "cac:PartyName/cbc:Name")  # the trading name, as printed; else the legal one
                or self.text(party, "cac:PartyLegalEntity/cbc:RegistrationName"))
        return {"name": name, "address": address, "tax_id": tax_id,
                "id": self.text(node, "cbc:CustomerAssignedAccountID")
                or self.text(party, "cac:PartyIdentification/cbc:ID")}

    def net_allowance(self, node: etree._Element | None) -> Decimal | None:
        """Σ allowances − Σ charges of the `AllowanceCharge` children; None without any."""
        total = None
        for ac in self.findall(node, "cac:AllowanceCharge"):
            indicator = (self.text(ac, "cbc:ChargeIndicator") or "").casefold()
            if indicator not in ("true", "false", "1", "0"):
                raise EInvoiceError(self.source, f"{describe(ac)}: ChargeIndicator {indicator!r} is not true/false")
            amount = self.dec(ac, "cbc:Amount")
            if amount is None:
                raise EInvoiceError(self.source, f"{describe(ac)}: allowance/charge without an Amount")
            total = (total or Decimal(0)) + (-amount if indicator in ("true", "1") else amount)
        return total

    def unit_price(self, price_el: etree._Element | None, line_id: str | None) -> Decimal | None:
        price = self.dec(price_el, "cbc:PriceAmount")
        base_el = self.find(price_el, "cbc:BaseQuantity")
        base = decimal_of(base_el, self.source)
        if price is None or base is None or base == 1:
            return price
        if base == 0:
            raise EInvoiceError(self.source, f"{describe(base_el)}: price base quantity is zero")  # type: ignore
        per_unit = price / base
        if per_unit.as_tuple().exponent < -6:  # type: ignore[operator]
            try:
                per_unit = per_unit.quantize(_MAX_PRICE_PLACES)
            except InvalidOperation:  # over 28 digits at 6 places: no stored decimal holds it either
                raise EInvoiceError(self.source, f"{describe(base_el)}: {price} / {base} is out of range") from None
            self.notes.append(("unit_price_rounded", f"line {line_id}: {price} / {base} rounded to {per_unit}"))
        unit = base_el.get("unitCode", "") if base_el is not None else ""
        per = f"{base} {unit}".rstrip()
        self.notes.append(("price_base_quantity",
                           f"line {line_id}: net price {price} per {per} -> unit_price {per_unit}"))
        return per_unit

    def items(self, line: etree._Element, tag: str) -> list[dict]:
        """A line as LineItem fields; a line with sub-lines (`tag`) is a group: its sub-lines instead."""
        line_id = self.text(line, "cbc:ID")
        item = self.find(line, "cac:Item")
        description = item_description(self.text(item, "cbc:Name"), self.text(item, "cbc:Description"))
        subs = self.findall(line, tag)
        if subs:
            self.notes.append(("subline_group", f"line {line_id} ({description}) has {len(subs)} sub-lines: "
                                                "not an item, its sub-lines are"))
            return [i for sub in subs for i in self.items(sub, tag)]
        qty_el = self.find(line, self.qty_tag)
        return [{
            "description": description,
            "product_code": self.text(item, "cac:SellersItemIdentification/cbc:ID"),
            "quantity": decimal_of(qty_el, self.source),
            "unit": (qty_el.get("unitCode") or None) if qty_el is not None else None,
            "unit_price": self.unit_price(self.find(line, "cac:Price"), line_id),
            "discount": self.net_allowance(line),
            "tax_rate": self.dec(item, "cac:ClassifiedTaxCategory/cbc:Percent"),
            "amount": self.dec(line, "cbc:LineExtensionAmount"),
        }]

    def tax_total(self, root: etree._Element, currency: str | None) -> etree._Element | None:
        """The `TaxTotal` in the document currency (a second one may state VAT in the tax currency)."""
        def rank(total: etree._Element) -> tuple[bool, bool]:
            amount = self.find(total, "cbc:TaxAmount")
            return amount is None, amount is not None and amount.get("currencyID") not in (None, currency)

        found = self.findall(root, "cac:TaxTotal")
        return min(found, key=rank) if found else None  # the first of the best


def parse_ubl(root: etree._Element, source: str = "<xml>") -> EInvoice:
    """A UBL 2.1 `Invoice` / `CreditNote` (XRechnung, Peppol BIS 3.0, EN 16931) as an `EInvoice`.

    `EInvoiceError` for another root, a number or date that does not parse (naming the element),
    or values the Invoice schema rejects.
    """
    q = etree.QName(root)
    if (q.namespace, q.localname) not in ((INVOICE_NS, "Invoice"), (CREDIT_NOTE_NS, "CreditNote")):
        raise EInvoiceError(source, f"not a UBL Invoice or CreditNote: root element {root.tag}")
    credit = q.localname == "CreditNote"
    r = _Reader(source, credit)
    payable = r.find(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")
    # Every amount carries its currency too: the attribute stands in when the mandatory code is missing.
    currency = r.text(root, "cbc:DocumentCurrencyCode") or (
        payable.get("currencyID") if payable is not None else None)
    seller = r.party(r.find(root, "cac:AccountingSupplierParty"))
    buyer = r.party(r.find(root, "cac:AccountingCustomerParty"))
    sums = r.find(root, "cac:LegalMonetaryTotal")
    allowances, charges = r.dec(sums, "cbc:AllowanceTotalAmount"), r.dec(sums, "cbc:ChargeTotalAmount")
    discount_total = (r.net_allowance(root) if allowances is None and charges is None
                      else (allowances or Decimal(0)) - (charges or Decimal(0)))
    charged = [ac for ac in r.findall(root, "cac:AllowanceCharge")
               if (r.text(ac, "cbc:ChargeIndicator") or "").casefold() in ("true", "1")]
    if charges or charged:
        r.notes.append(("document_charges", "charges count as a negative discount: "
                                            f"discount_total = allowances − charges = {discount_total}"))
    means = [m for m in r.findall(root, "cac:PaymentMeans") if r.find(m, "cac:PayeeFinancialAccount") is not None]
    account = r.find(means[0], "cac:PayeeFinancialAccount") if means else None
    payment_nodes = r.findall(root, "cac:PaymentMeans") + r.findall(root, "cac:PaymentTerms")
    due_dates = [r.date(root, "cbc:DueDate")] + [r.date(node, "cbc:PaymentDueDate") for node in payment_nodes]
    tax = r.tax_total(root, currency)
    terms = [text_of(note) for note in r.findall(root, "cac:PaymentTerms/cbc:Note")]
    breakdown = [{"rate": r.dec(s, "cac:TaxCategory/cbc:Percent"), "base_amount": r.dec(s, "cbc:TaxableAmount"),
                  "tax_amount": r.dec(s, "cbc:TaxAmount")} for s in r.findall(tax, "cac:TaxSubtotal")]
    type_code = r.text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode") or (
        "381" if credit else "")
    values = {
        "invoice_number": r.text(root, "cbc:ID"),
        "issue_date": r.date(root, "cbc:IssueDate"),
        "due_date": next((d for d in due_dates if d is not None), None),
        "delivery_date": r.date(root, "cac:Delivery/cbc:ActualDeliveryDate"),
        "purchase_order": r.text(root, "cac:OrderReference/cbc:ID"),
        "vendor_name": seller["name"], "vendor_address": seller["address"], "vendor_tax_id": seller["tax_id"],
        "customer_name": buyer["name"], "customer_address": buyer["address"], "customer_tax_id": buyer["tax_id"],
        "customer_id": buyer["id"],
        "currency": currency,
        "subtotal": r.dec(sums, "cbc:LineExtensionAmount"),
        "discount_total": discount_total,
        "tax_total": r.dec(tax, "cbc:TaxAmount"),
        "total": r.dec(sums, "cbc:TaxInclusiveAmount"),
        "amount_due": decimal_of(payable, source),
        "payment_terms": "; ".join(n for n in terms if n) or None,
        "iban": r.text(account, "cbc:ID"),
        "bic": r.text(account, "cac:FinancialInstitutionBranch/cbc:ID"),
        "tax_breakdown": [row for row in breakdown if any(v is not None for v in row.values())],
        "line_items": [i for line in r.findall(root, r.line_tag) for i in r.items(line, r.sub_tag)],
    }
    try:
        invoice = Invoice.model_validate(values)
    except ValidationError as exc:
        raise EInvoiceError(source, f"UBL values do not fit the Invoice schema: {exc}") from None
    guideline = r.text(root, "cbc:CustomizationID") or ""
    return EInvoice(invoice, "UBL", profile_of(guideline), guideline, type_code,
                    credit or type_code in CREDIT_NOTE_CODES, notes=tuple(r.notes))
