from decimal import Decimal

import pytest

from raxdoc.postprocess.checks import (
    confidence, duplicate_lines, half_ulp, line_amount_ok, lines_sum_subtotal, subtotal_tax_total, tax_breakdown_ok,
)
from raxdoc.schemas import Invoice, Issue, LineItem

D = Decimal


def item(q=None, p=None, a=None, d=None, rate=None, desc="x"):
    return LineItem(description=desc, quantity=q, unit_price=p, amount=a, discount=d, tax_rate=rate)


def test_half_ulp_follows_printed_places():
    assert half_ulp(D("12.50")) == D("0.005") and half_ulp(D("12")) == D("0.5") and half_ulp(D("0.125")) == D("0.0005")


@pytest.mark.parametrize("line, ok", [
    (item("3", "12.50", "37.50"), True),
    (item("3", "12.50", "37.60"), False),
    (item("1000", "0.12", "120.00"), True),
    (item("3", "0.333", "1.00"), True),  # unit price rounded on the page: 3 × 0.0005 slack
    (item("1000", "0.123", "120.00"), False),
    (item("2", "10.00", "18.00", d="2.00"), True),
    (item("2", "10.00", "18.00", d="-2.00"), True),  # discount sign as written does not matter
    (item("-2", "10.00", "-20.00"), True),  # credit line
    (item("2", "10.00", "23.80", rate="19"), True),  # gross line amount at its tax rate
    (item("2", "10.00", "23.80"), False),
    (item(None, "10.00", "20.00"), None),
    (item("2", None, "20.00"), None),
    (item("2", "10.00", None), None),
])
def test_line_amount(line, ok):
    assert line_amount_ok(line) is ok


def test_lines_sum_and_totals():
    items = [item(a="10.00"), item(a="20.00")]
    assert lines_sum_subtotal(items, Invoice(subtotal="30.00")) is True
    assert lines_sum_subtotal(items, Invoice(subtotal="31.00")) is False
    assert lines_sum_subtotal(items, Invoice(subtotal="25.00", discount_total="5.00")) is True
    assert lines_sum_subtotal(items, Invoice()) is None
    assert lines_sum_subtotal(items + [item()], Invoice(subtotal="30.00")) is None  # a line without amount
    assert lines_sum_subtotal([], Invoice(subtotal="30.00")) is None
    assert subtotal_tax_total(Invoice(subtotal="100.00", tax_total="19.00", total="119.00")) is True
    assert subtotal_tax_total(Invoice(subtotal="100.00", tax_total="19.00", total="119.02")) is False
    assert subtotal_tax_total(Invoice(subtotal="100", tax_total="19", total="119.40")) is True  # whole units: ±1.5
    assert subtotal_tax_total(Invoice(subtotal="100.00", total="119.00")) is None


def test_duplicate_lines_only_across_pages():
    a, b = item(a="1.00", desc="Widget"), item(a="1.00", desc="  widget ")
    assert duplicate_lines([a, b], [0, 0]) == 0  # same page: legitimately repeated
    assert duplicate_lines([a, b], [0, 1]) == 1
    assert duplicate_lines([item(desc="W"), item(desc="W")], [0, 1]) == 0  # no amount: not compared


def test_confidence_orders_documents():
    doubt = [Issue("ambiguous_number", "total", "m")]
    full = confidence(2, 2, (True, True), True, True, 0, [])
    assert full == 1.0
    assert confidence(1, 2, (True,), True, True, 0, []) == 0.5
    assert confidence(0, 2, (), None, None, 0, []) == 0.0
    unverifiable = confidence(1, 1, (None,), None, None, 0, [])
    failing = confidence(1, 1, (False,), False, False, 0, [])
    assert failing < unverifiable < full
    assert confidence(1, 1, (True,), True, True, 0, doubt) < full
    assert 0.0 <= confidence(1, 1, (), None, None, 0, doubt * 100) <= 1.0


def test_tax_breakdown():
    rows = [{"rate": "19", "base_amount": "100.00", "tax_amount": "19.00"},
            {"rate": "7", "base_amount": "10.05", "tax_amount": "0.70"}]  # 0.7035 printed 0.70
    assert tax_breakdown_ok(Invoice(tax_breakdown=rows, tax_total="19.70")) is True
    assert tax_breakdown_ok(Invoice(tax_breakdown=rows, tax_total="19.80")) is False
    assert tax_breakdown_ok(Invoice(tax_breakdown=rows[:1] + [{"rate": "7", "base_amount": "10.00",
                                                               "tax_amount": "0.90"}])) is False
    assert tax_breakdown_ok(Invoice(tax_breakdown=[{"rate": "19"}])) is None
    assert tax_breakdown_ok(Invoice()) is None


def test_carry_forward_detection_is_narrow():
    from raxdoc.postprocess.checks import is_carry_forward

    assert is_carry_forward(item(desc="Übertrag von Seite 1", a="10.00"))
    assert is_carry_forward(item(desc="Zwischensumme", a="10.00"))
    assert not is_carry_forward(item(desc="Transport", a="10.00"))  # shipping is a real charge
    assert not is_carry_forward(item(desc="Annual report printing", a="10.00"))
    assert not is_carry_forward(item("1", "10.00", "10.00", desc="Übertrag"))  # priced: a billed item


@pytest.mark.parametrize("discount, total, ok", [
    ("5.00", "114.00", True),  # a discount printed positive (the model route): 100 − 5 + 19
    ("-5.00", "114.00", True),  # a discount printed with its minus sign: still a discount
    ("-5.00", "124.00", True),  # a net charge (e-invoice: allowances − charges < 0): 100 + 5 + 19
    ("5.00", "124.00", False),  # a positive value is never a charge
    ("5.00", "119.00", True),  # the total before the discount (the subtotal already net of it)
])
def test_discount_total_is_signed_allowances_minus_charges(discount, total, ok):
    assert subtotal_tax_total(Invoice(subtotal="100.00", discount_total=discount, tax_total="19.00", total=total)) is ok


def test_lines_sum_with_a_net_charge():
    items = [item(a="10.00"), item(a="20.00")]
    assert lines_sum_subtotal(items, Invoice(subtotal="35.00", discount_total="-5.00")) is True  # charge after lines
    assert lines_sum_subtotal(items, Invoice(subtotal="25.00", discount_total="-5.00")) is True  # printed minus
    assert lines_sum_subtotal(items, Invoice(subtotal="35.00", discount_total="5.00")) is False
    assert lines_sum_subtotal(items, Invoice(subtotal="30.00", discount_total="-5.00")) is True  # subtotal before it
