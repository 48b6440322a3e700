"""The CII reader: UN/CEFACT Cross Industry Invoice (Factur-X / ZUGFeRD 2.x / XRechnung CII, every
profile MINIMUM .. EXTENDED) and its ancestor ZUGFeRD 1.0 (`CrossIndustryDocument`) -> `EInvoice`.

Both syntaxes share the `ram:` vocabulary and differ in paths and namespaces; `_Paths` holds the
difference as data, one reader walks both. The mapping, field by field, and its decisions:
- invoice_number, issue_date, document type: `ExchangedDocument` (1.0: `HeaderExchangedDocument`);
  dates are format 102. Credit notes (381 and the other UNTDID 1001 credit codes) keep the amounts
  as written and set `is_credit_note` (record.py's convention).
- parties: `Name`; address = LineOne..Three, then "postcode city" in the order the country prints it,
  joined with ", " (the country code is left out); tax id = the `VA` (VAT) registration, else `FC`
  (tax number), else any; customer_id = the buyer's `ID`; purchase_order = the buyer's order ref.
- lines: description = product `Name`, then `Description` after one space when it says more
  (values.item_description, UBL's rule too); product_code = `SellerAssignedID`;
  quantity + unit = `BilledQuantity` and its Rec 20 `unitCode` as written ("H87", "HUR");
  unit_price = the NET price `ChargeAmount` divided by its `BasisQuantity` when that is not 1 (a
  note says so; over 6 decimals it is rounded, noted); discount = line allowances minus line
  charges (None without either); tax_rate = the line's VAT percent; amount = `LineTotalAmount`.
- EXTENDED sub-lines: a line whose `LineStatusReasonCode` is GROUP (its amount is the sum of its
  DETAIL sub-lines) or INFORMATION (not billed) is not an item, and a note names it; DETAIL
  sub-lines are items of their own, in document order. So Σ item amounts = subtotal still holds.
- totals: subtotal = `LineTotalAmount` (MINIMUM has none: `TaxBasisTotalAmount`); discount_total =
  document allowances minus document charges (a charge is a negative discount; None without
  either); tax_total = `TaxTotalAmount` in the invoice currency; total = `GrandTotalAmount`;
  amount_due = `DuePayableAmount`; tax_breakdown = the header `ApplicableTradeTax` rows.
- payment: payment_terms = the terms' descriptions joined with "; "; due_date = the first term's
  due date; iban/bic = the first payment means with an IBAN (compact, as the XML writes it).

Not here: parsing bytes (`xml.py`), finding the XML in a PDF (`attachments.py`), UBL (`ubl.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from lxml import etree
from pydantic import ValidationError

from raxdoc.ingest.einvoice.guideline import profile_of
from raxdoc.ingest.einvoice.record import EInvoice, EInvoiceError
from raxdoc.ingest.einvoice.values import date_of, decimal_of, describe, item_description, join_address, text_of
from raxdoc.schemas.invoice import Invoice

CII_NS = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
ZUGFERD1_NS = "urn:ferd:CrossIndustryDocument:invoice:1p0"
# UNTDID 1001 codes of credit notes (EN 16931's list).
CREDIT_NOTE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})
_NOT_ITEMS = frozenset({"GROUP", "INFORMATION"})
_MAX_PRICE_PLACES = Decimal("0.000001")  # the Arrow decimal scale (schemas/types.py)


@dataclass(frozen=True)
class _Paths:
    syntax: str
    ns: dict[str, str]
    context: str  # the guideline id, from the root
    document: str  # the document header, from the root
    transaction: str  # from the root; the next three are under it
    agreement: str
    delivery: str
    settlement: str
    order_id: str  # under the buyer's order reference
    sums: str  # header monetary summation, under settlement
    rate: str  # the VAT percent, under ApplicableTradeTax
    line_agreement: str
    line_delivery: str
    line_settlement: str
    line_sums: str  # under line_settlement


CII = _Paths(
    "CII",
    {"rsm": CII_NS, "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
     "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"},
    "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID", "rsm:ExchangedDocument",
    "rsm:SupplyChainTradeTransaction", "ram:ApplicableHeaderTradeAgreement", "ram:ApplicableHeaderTradeDelivery",
    "ram:ApplicableHeaderTradeSettlement", "ram:IssuerAssignedID", "ram:SpecifiedTradeSettlementHeaderMonetarySummation",
    "ram:RateApplicablePercent", "ram:SpecifiedLineTradeAgreement", "ram:SpecifiedLineTradeDelivery",
    "ram:SpecifiedLineTradeSettlement", "ram:SpecifiedTradeSettlementLineMonetarySummation",
)
ZUGFERD1 = _Paths(
    "ZUGFeRD1",
    {"rsm": ZUGFERD1_NS, "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
     "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"},
    "rsm:SpecifiedExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
    "rsm:HeaderExchangedDocument", "rsm:SpecifiedSupplyChainTradeTransaction",
    "ram:ApplicableSupplyChainTradeAgreement", "ram:ApplicableSupplyChainTradeDelivery",
    "ram:ApplicableSupplyChainTradeSettlement", "ram:ID", "ram:SpecifiedTradeSettlementMonetarySummation",
    "ram:ApplicablePercent", "ram:SpecifiedSupplyChainTradeAgreement", "ram:SpecifiedSupplyChainTradeDelivery",
    "ram:SpecifiedSupplyChainTradeSettlement", "ram:SpecifiedTradeSettlementMonetarySummation",
)


class _Reader:
    """One document's walk: typed look-ups under a node, and the notes gathered on the way."""

    def __init__(self, paths: _Paths, source: str) -> None:
        self.p, self.source = paths, source
        self.notes: list[tuple[str, str]] = []

    def find(self, node: etree._Element | None, path: str) -> etree._Element | None:
        return None if node is None else node.find(path, self.p.ns)

    def findall(self, node: etree._Element | None, path: str) -> list[etree._Element]:
        return [] if node is None else node.findall(path, self.p.ns)

    def text(self, node: etree._Element | None, path: str) -> str | None:
        return text_of(self.find(node, path))

    def dec(self, node: etree._Element | None, path: str) -> Decimal | None:
        return decimal_of(self.find(node, path), self.source)

    def date(self, node: etree._Element | None, path: str):
        return date_of(self.find(node, f"{path}/udt:DateTimeString"), self.source)

    def party(self, node: etree._Element | None) -> dict[str, str | None]:
        addr = self.find(node, "ram:PostalTradeAddress")
        lines = [self.text(addr, f"ram:{n}") for n in ("LineOne", "LineTwo", "LineThree")]
        address = join_address(lines, self.text(addr, "ram:PostcodeCode"), self.text(addr, "ram:CityName"),
                               self.text(addr, "ram:CountrySubDivisionName"), self.text(addr, "ram:CountryID"))
        regs: dict[str | None, str] = {}
        for reg in self.findall(node, "ram:SpecifiedTaxRegistration/ram:ID"):
            if text_of(reg):
                regs.setdefault(reg.get("schemeID"), text_of(reg))  # type: ignore[arg-type]
        tax_id = regs.get("VA") or regs.get("FC") or next(iter(regs.values()), None)
        return {"name": self.text(node, "ram:Name"), "address": address, "tax_id": tax_id,
                "id": self.text(node, "ram:ID")}

    def net_allowance(self, node: etree._Element | None) -> Decimal | None:
        """Σ allowances − Σ charges of the `SpecifiedTradeAllowanceCharge` children; None without any."""
        total = None
        for ac in self.findall(node, "ram:SpecifiedTradeAllowanceCharge"):
            indicator = (self.text(ac, "ram:ChargeIndicator/udt:Indicator") or "").casefold()
            if indicator not in ("true", "false", "1", "0"):
                raise EInvoiceError(self.source, f"{describe(ac)}: ChargeIndicator {indicator!r} is not true/false")
            amount = self.dec(ac, "ram:ActualAmount")
            if amount is None:
                raise EInvoiceError(self.source, f"{describe(ac)}: allowance/charge without an ActualAmount")
            total = (total or Decimal(0)) + (-amount if indicator in ("true", "1") else amount)
        return total

    def unit_price(self, price_el: etree._Element | None, line_id: str | None) -> Decimal | None:
        price = self.dec(price_el, "ram:ChargeAmount")
        base_el = self.find(price_el, "ram:BasisQuantity")
        base = decimal_of(base_el, self.source)
        if price is None or base is None or base == 1:
            return price
        if base == 0:
            raise EInvoiceError(self.source, f"{describe(base_el)}: price base quantity is zero")  # type: ignore[arg-type]
        per_unit = price / base
        if per_unit.as_tuple().exponent < -6:  # type: ignore[operator]
            per_unit = per_unit.quantize(_MAX_PRICE_PLACES)
            self.notes.append(("unit_price_rounded", f"line {line_id}: {price} / {base} rounded to {per_unit}"))
        unit = base_el.get("unitCode", "") if base_el is not None else ""
        self.notes.append(("price_base_quantity",
                           f"line {line_id}: net price {price} per {base} {unit}".rstrip() + f" -> unit_price {per_unit}"))
        return per_unit

    def line(self, line: etree._Element) -> dict | None:
        """One `IncludedSupplyChainTradeLineItem` as LineItem fields; None for GROUP / INFORMATION lines."""
        doc = self.find(line, "ram:AssociatedDocumentLineDocument")
        line_id = self.text(doc, "ram:LineID")
        status = (self.text(doc, "ram:LineStatusReasonCode") or "").upper()
        product = self.find(line, "ram:SpecifiedTradeProduct")
        name = item_description(self.text(product, "ram:Name"), self.text(product, "ram:Description"))
        if status in _NOT_ITEMS:
            self.notes.append(("subline_" + status.lower(), f"line {line_id} ({name}) is a {status} line: not an item"))
            return None
        agreement = self.find(line, self.p.line_agreement)
        qty_el = self.find(self.find(line, self.p.line_delivery), "ram:BilledQuantity")
        settlement = self.find(line, self.p.line_settlement)
        return {
            "description": name,
            "product_code": self.text(product, "ram:SellerAssignedID"),
            "quantity": decimal_of(qty_el, self.source),
            "unit": (qty_el.get("unitCode") or None) if qty_el is not None else None,
            "unit_price": self.unit_price(self.find(agreement, "ram:NetPriceProductTradePrice"), line_id),
            "discount": self.net_allowance(settlement),
            "tax_rate": self.dec(settlement, f"ram:ApplicableTradeTax/{self.p.rate}"),
            "amount": self.dec(settlement, f"{self.p.line_sums}/ram:LineTotalAmount"),
        }

    def tax_total(self, sums: etree._Element | None, currency: str | None) -> Decimal | None:
        """The `TaxTotalAmount` in the invoice currency (a second one may be in the VAT accounting currency)."""
        found = self.findall(sums, "ram:TaxTotalAmount")
        ranked = sorted(found, key=lambda e: (e.get("currencyID") != currency, e.get("currencyID") is not None))
        return decimal_of(ranked[0], self.source) if ranked else None


def _read(root: etree._Element, paths: _Paths, source: str) -> EInvoice:
    r = _Reader(paths, source)
    doc = r.find(root, paths.document)
    tx = r.find(root, paths.transaction)
    agreement, delivery, st = (r.find(tx, p) for p in (paths.agreement, paths.delivery, paths.settlement))
    seller = r.party(r.find(agreement, "ram:SellerTradeParty"))
    buyer = r.party(r.find(agreement, "ram:BuyerTradeParty"))
    currency = r.text(st, "ram:InvoiceCurrencyCode")
    sums = r.find(st, paths.sums)
    allowances, charges = r.dec(sums, "ram:AllowanceTotalAmount"), r.dec(sums, "ram:ChargeTotalAmount")
    discount_total = (r.net_allowance(st) if allowances is None and charges is None
                      else (allowances or Decimal(0)) - (charges or Decimal(0)))
    if charges:
        r.notes.append(("document_charges", f"charges {charges} count as a negative discount: "
                                            f"discount_total = allowances − charges = {discount_total}"))
    terms = r.findall(st, "ram:SpecifiedTradePaymentTerms")
    descriptions = [text_of(d) for t in terms for d in r.findall(t, "ram:Description")]
    due = next((d for d in (r.date(t, "ram:DueDateDateTime") for t in terms) if d is not None), None)
    means = [m for m in r.findall(st, "ram:SpecifiedTradeSettlementPaymentMeans")
             if r.text(m, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID")]
    pay = means[0] if means else None
    items = [item for line in r.findall(tx, "ram:IncludedSupplyChainTradeLineItem")
             if (item := r.line(line)) is not None]
    breakdown = [{"rate": r.dec(t, paths.rate), "base_amount": r.dec(t, "ram:BasisAmount"),
                  "tax_amount": r.dec(t, "ram:CalculatedAmount")} for t in r.findall(st, "ram:ApplicableTradeTax")]
    type_code = r.text(doc, "ram:TypeCode") or ""
    values = {
        "invoice_number": r.text(doc, "ram:ID"),
        "issue_date": r.date(doc, "ram:IssueDateTime"),
        "due_date": due,
        "delivery_date": r.date(delivery, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime"),
        "purchase_order": r.text(agreement, f"ram:BuyerOrderReferencedDocument/{paths.order_id}"),
        "vendor_name": seller["name"], "vendor_address": seller["address"], "vendor_tax_id": seller["tax_id"],
        "customer_name": buyer["name"], "customer_address": buyer["address"], "customer_tax_id": buyer["tax_id"],
        "customer_id": buyer["id"],
        "currency": currency,
        "subtotal": r.dec(sums, "ram:LineTotalAmount") if r.find(sums, "ram:LineTotalAmount") is not None
        else r.dec(sums, "ram:TaxBasisTotalAmount"),
        "discount_total": discount_total,
        "tax_total": r.tax_total(sums, currency),
        "total": r.dec(sums, "ram:GrandTotalAmount"),
        "amount_due": r.dec(sums, "ram:DuePayableAmount"),
        "payment_terms": "; ".join(d for d in descriptions if d) or None,
        "iban": r.text(pay, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"),
        "bic": r.text(pay, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
        "tax_breakdown": [row for row in breakdown if any(v is not None for v in row.values())],
        "line_items": items,
    }
    try:
        invoice = Invoice.model_validate(values)
    except ValidationError as exc:
        raise EInvoiceError(source, f"{paths.syntax} values do not fit the Invoice schema: {exc}") from None
    guideline = r.text(root, paths.context) or ""
    return EInvoice(invoice, paths.syntax, profile_of(guideline), guideline, type_code,
                    type_code in CREDIT_NOTE_CODES, notes=tuple(r.notes))


def parse_cii(root: etree._Element, source: str = "<xml>") -> EInvoice:
    """A CII `CrossIndustryInvoice` (Factur-X / ZUGFeRD 2.x / XRechnung CII) as an `EInvoice`."""
    return _read(root, CII, source)


def parse_zugferd1(root: etree._Element, source: str = "<xml>") -> EInvoice:
    """A ZUGFeRD 1.0 `CrossIndustryDocument` as an `EInvoice` (syntax "ZUGFeRD1")."""
    return _read(root, ZUGFERD1, source)
