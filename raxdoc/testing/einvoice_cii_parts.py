"""The element trees behind `einvoice_cii.write_cii`: CII D16B (Factur-X) and ZUGFeRD 1.0, in XSD order.

`Names.build(truth, doc, guideline)` turns the prepared values of `write_cii` into a root element; the
two syntaxes differ in namespaces, element names and order, so each has its own builder and shares
the party and line parts. Element order follows the XSDs factur-x ships (the tests check it).

Not here: choosing values per profile or the expected record (`einvoice_cii.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

_RAM_D16B = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
_NS_CII = {"rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100", "ram": _RAM_D16B,
           "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
           "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"}
_NS_ZF1 = {"rsm": "urn:ferd:CrossIndustryDocument:invoice:1p0",
           "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12",
           "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"}


def party_parts(name: str | None, address: str | None, tax_id: str | None, country: str, party_id: str | None) -> dict:
    """A truth party split into address fields the way the reader joins them back."""
    parts = address.split(", ") if address else []
    street, postcode, city, sub = parts[:1], None, None, None
    if country == "US" and len(parts) >= 3:
        street, city = parts[:-2], parts[-2]
        sub, postcode = parts[-1].split(" ", 1)
    elif len(parts) >= 2:
        street, last = parts[:-1], parts[-1]
        m = re.fullmatch(r"(.*) (\S+ \S+)", last) if country == "GB" else re.fullmatch(r"(\S+) (.*)", last)
        if m is None:
            street = parts
        elif country == "GB":
            city, postcode = m.groups()
        else:
            postcode, city = m.groups()
    scheme = "VA" if tax_id and tax_id[:2].isalpha() else "FC"
    return {"name": name, "street": street, "postcode": postcode, "city": city, "sub": sub, "country": country,
            "tax_id": tax_id, "scheme": scheme, "id": party_id}


class _Tree:
    def __init__(self, ns: dict[str, str]) -> None:
        self.ns = ns

    def el(self, parent: etree._Element | None, tag: str, text: object = None, **attrib: str) -> etree._Element:
        prefix, local = tag.split(":")
        qname = f"{{{self.ns[prefix]}}}{local}"
        node = etree.Element(qname, attrib, nsmap=self.ns) if parent is None else etree.SubElement(parent, qname, attrib)
        if text is not None:
            node.text = str(text)
        return node

    def date(self, parent: etree._Element, tag: str, iso: str) -> None:
        self.el(self.el(parent, tag), "udt:DateTimeString", iso.replace("-", ""), format="102")

    def party(self, parent: etree._Element, tag: str, p: dict, *, minimum: bool, zf1: bool) -> None:
        node = self.el(parent, tag)
        if p["id"]:
            self.el(node, "ram:ID", p["id"])
        self.el(node, "ram:Name", p["name"])
        addr = self.el(node, "ram:PostalTradeAddress") if not (minimum and tag.endswith("BuyerTradeParty")) else None
        if addr is not None and not minimum:
            if p["postcode"]:
                self.el(addr, "ram:PostcodeCode", p["postcode"])
            for tag_, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), p["street"], strict=False):
                self.el(addr, tag_, line)
            city = f"{p['city']}, {p['sub']}" if zf1 and p["sub"] else p["city"]  # 1.0 has no subdivision
            if city:
                self.el(addr, "ram:CityName", city)
        if addr is not None:
            self.el(addr, "ram:CountryID", p["country"])
            if p["sub"] and not zf1 and not minimum:
                self.el(addr, "ram:CountrySubDivisionName", p["sub"])
        if p["tax_id"]:
            self.el(node, "ram:SpecifiedTaxRegistration").append(
                self._id("ram:ID", p["tax_id"], schemeID=p["scheme"]))

    def _id(self, tag: str, text: str, **attrib: str) -> etree._Element:
        prefix, local = tag.split(":")
        node = etree.Element(f"{{{self.ns[prefix]}}}{local}", attrib)
        node.text = text
        return node

    def tax(self, parent: etree._Element, rate: Decimal, rate_tag: str, amounts: tuple | None = None) -> None:
        node = self.el(parent, "ram:ApplicableTradeTax")
        if amounts:
            self.el(node, "ram:CalculatedAmount", amounts[1])
        self.el(node, "ram:TypeCode", "VAT")
        if amounts:
            self.el(node, "ram:BasisAmount", amounts[0])
        self.el(node, "ram:CategoryCode", "S")
        self.el(node, rate_tag, rate)

    def allowance(self, parent: etree._Element, amount: Decimal, charge: bool, rate: Decimal | None,
                  rate_tag: str) -> None:
        node = self.el(parent, "ram:SpecifiedTradeAllowanceCharge")
        self.el(self.el(node, "ram:ChargeIndicator"), "udt:Indicator", "true" if charge else "false")
        self.el(node, "ram:ActualAmount", amount)
        self.el(node, "ram:Reason", "Freight" if charge else "Discount")
        if rate is not None:
            cat = self.el(node, "ram:CategoryTradeTax")
            self.el(cat, "ram:TypeCode", "VAT")
            self.el(cat, "ram:CategoryCode", "S")
            self.el(cat, rate_tag, rate)


@dataclass(frozen=True)
class Names:
    ns: dict[str, str]
    build: Callable[[dict, dict, str], etree._Element]


def _line_rows(doc: dict) -> list[tuple[dict, str, str | None, str | None]]:
    """(line values, LineID, ParentLineID, LineStatusReasonCode); with `group_lines` a GROUP parent over
    the first two items and an INFORMATION line at the end."""
    lines = doc["lines"]
    if not doc["group_lines"]:
        return [(v, str(i + 1), None, None) for i, v in enumerate(lines)]
    kids = lines[:2]
    group = {"description": "Bundle", "product_code": None, "quantity": Decimal(1), "unit": "C62",
             "unit_price": sum(k["amount"] for k in kids), "tax_rate": None, "discount": None,
             "amount": sum(k["amount"] for k in kids)}
    rows = [(group, "1", None, "GROUP")] + [(k, f"1.{j + 1}", "1", "DETAIL") for j, k in enumerate(kids)]
    rows += [(v, str(i + 2), None, None) for i, v in enumerate(lines[2:])]
    info = {"description": "Delivery note enclosed", "info": True}
    return rows + [(info, str(len(lines)), None, "INFORMATION")]


def _line(t: _Tree, parent: etree._Element, row: tuple, doc: dict, i: int, zf1: bool) -> None:
    v, line_id, parent_id, status = row
    rate_tag = "ram:ApplicablePercent" if zf1 else "ram:RateApplicablePercent"
    node = t.el(parent, "ram:IncludedSupplyChainTradeLineItem")
    ref = t.el(node, "ram:AssociatedDocumentLineDocument")
    t.el(ref, "ram:LineID", line_id)
    if parent_id:
        t.el(ref, "ram:ParentLineID", parent_id)
    if status:
        t.el(ref, "ram:LineStatusReasonCode", status)

    def product() -> None:
        prod = t.el(node, "ram:SpecifiedTradeProduct")
        if v.get("product_code"):
            t.el(prod, "ram:SellerAssignedID", v["product_code"])
        t.el(prod, "ram:Name", v["description"])

    if not zf1:
        product()
    if v.get("info"):
        t.el(node, "ram:SpecifiedLineTradeSettlement")
        return
    names = (("ram:SpecifiedSupplyChainTradeAgreement", "ram:SpecifiedSupplyChainTradeDelivery",
              "ram:SpecifiedSupplyChainTradeSettlement", "ram:SpecifiedTradeSettlementMonetarySummation") if zf1 else
             ("ram:SpecifiedLineTradeAgreement", "ram:SpecifiedLineTradeDelivery", "ram:SpecifiedLineTradeSettlement",
              "ram:SpecifiedTradeSettlementLineMonetarySummation"))
    price = t.el(t.el(node, names[0]), "ram:NetPriceProductTradePrice")
    base = doc["price_base"] if doc["price_base"] and i % 2 == 1 and status != "GROUP" else None
    t.el(price, "ram:ChargeAmount", v["unit_price"] * base if base else v["unit_price"])
    if base:
        t.el(price, "ram:BasisQuantity", base, unitCode=v["unit"])
    t.el(t.el(node, names[1]), "ram:BilledQuantity", v["quantity"], unitCode=v["unit"])
    st = t.el(node, names[2])
    if v["tax_rate"] is not None:
        t.tax(st, v["tax_rate"], rate_tag)
    if v["discount"] is not None:
        t.allowance(st, v["discount"], False, None, rate_tag)
    t.el(t.el(st, names[3]), "ram:LineTotalAmount", v["amount"])
    if zf1:
        product()


def _settlement(t: _Tree, st: etree._Element, truth: dict, doc: dict, zf1: bool) -> None:
    money, minimum = doc["money"], doc["minimum"]
    rate_tag = "ram:ApplicablePercent" if zf1 else "ram:RateApplicablePercent"
    t.el(st, "ram:InvoiceCurrencyCode", truth["currency"])
    if not minimum:
        if truth.get("iban"):
            means = t.el(st, "ram:SpecifiedTradeSettlementPaymentMeans")
            t.el(means, "ram:TypeCode", "58")
            t.el(t.el(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", truth["iban"].replace(" ", ""))
            if doc["full"] and truth.get("bic"):
                t.el(t.el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", truth["bic"])
        for row in money["rows"]:
            t.tax(st, row["rate"], rate_tag, (row["base_amount"], row["tax_amount"]))
        first = money["rows"][0]["rate"]
        if money["allowance"]:
            t.allowance(st, money["allowance"], False, first, rate_tag)
        if money["charge"]:
            t.allowance(st, money["charge"], True, first, rate_tag)
        if truth.get("payment_terms") or truth.get("due_date"):
            terms = t.el(st, "ram:SpecifiedTradePaymentTerms")
            if truth.get("payment_terms"):
                t.el(terms, "ram:Description", truth["payment_terms"])
            if truth.get("due_date"):
                t.date(terms, "ram:DueDateDateTime", truth["due_date"])
    sums = t.el(st, "ram:SpecifiedTradeSettlementMonetarySummation" if zf1 else
                "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    if not minimum:
        t.el(sums, "ram:LineTotalAmount", money["subtotal"])
        if money["charge"]:
            t.el(sums, "ram:ChargeTotalAmount", money["charge"])
        if money["allowance"]:
            t.el(sums, "ram:AllowanceTotalAmount", money["allowance"])
    t.el(sums, "ram:TaxBasisTotalAmount", money["basis"])
    t.el(sums, "ram:TaxTotalAmount", money["tax_total"], currencyID=truth["currency"])
    t.el(sums, "ram:GrandTotalAmount", money["total"])
    t.el(sums, "ram:DuePayableAmount", money["total"])


def _build(truth: dict, doc: dict, guideline: str, zf1: bool) -> etree._Element:
    t = _Tree(_NS_ZF1 if zf1 else _NS_CII)
    root = t.el(None, "rsm:CrossIndustryDocument" if zf1 else "rsm:CrossIndustryInvoice")
    ctx = t.el(root, "rsm:SpecifiedExchangedDocumentContext" if zf1 else "rsm:ExchangedDocumentContext")
    t.el(t.el(ctx, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", guideline)
    head = t.el(root, "rsm:HeaderExchangedDocument" if zf1 else "rsm:ExchangedDocument")
    t.el(head, "ram:ID", truth["invoice_number"])
    t.el(head, "ram:TypeCode", "381" if doc["credit_note"] else "380")
    t.date(head, "ram:IssueDateTime", truth["issue_date"])
    tx = t.el(root, "rsm:SpecifiedSupplyChainTradeTransaction" if zf1 else "rsm:SupplyChainTradeTransaction")
    rows = _line_rows(doc)
    if not zf1:
        for i, row in enumerate(rows):
            _line(t, tx, row, doc, i, zf1)
    agreement = t.el(tx, "ram:ApplicableSupplyChainTradeAgreement" if zf1 else "ram:ApplicableHeaderTradeAgreement")
    t.party(agreement, "ram:SellerTradeParty", doc["vendor"], minimum=doc["minimum"], zf1=zf1)
    t.party(agreement, "ram:BuyerTradeParty", doc["customer"], minimum=doc["minimum"], zf1=zf1)
    if truth.get("purchase_order"):
        t.el(t.el(agreement, "ram:BuyerOrderReferencedDocument"), "ram:ID" if zf1 else "ram:IssuerAssignedID",
             truth["purchase_order"])
    delivery = t.el(tx, "ram:ApplicableSupplyChainTradeDelivery" if zf1 else "ram:ApplicableHeaderTradeDelivery")
    if truth.get("delivery_date") and not doc["minimum"]:
        t.date(t.el(delivery, "ram:ActualDeliverySupplyChainEvent"), "ram:OccurrenceDateTime", truth["delivery_date"])
    _settlement(t, t.el(tx, "ram:ApplicableSupplyChainTradeSettlement" if zf1 else
                        "ram:ApplicableHeaderTradeSettlement"), truth, doc, zf1)
    if zf1:
        for i, row in enumerate(rows):
            _line(t, tx, row, doc, i, zf1)
    return root


CII_NAMES = Names(_NS_CII, lambda truth, doc, g: _build(truth, doc, g, zf1=False))
ZF1_NAMES = Names(_NS_ZF1, lambda truth, doc, g: _build(truth, doc, g, zf1=True))
