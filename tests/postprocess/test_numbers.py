from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal, get_decimal_symbol
from hypothesis import given, settings
from hypothesis import strategies as st

from raxdoc.postprocess.numbers import (
    NumberError, fits_storage, infer_decimal_separator, parse_number, separator_evidence,
)

D = Decimal


@pytest.mark.parametrize("text, value", [
    ("1.234,56", "1234.56"),
    ("1,234.56", "1234.56"),
    ("1 234,56", "1234.56"),
    ("1\u00a0234,56", "1234.56"),
    ("1\u202f234,56", "1234.56"),
    ("1'234.56", "1234.56"),
    ("1’234.56", "1234.56"),
    ("(12.00)", "-12.00"),
    ("12.00-", "-12.00"),
    ("-12", "-12"),
    ("\u221212,5", "-12.5"),
    ("€ 1.234,56", "1234.56"),
    ("1.234,56 EUR", "1234.56"),
    ("USD 12", "12"),
    ("EUR-1’234’567.89", "-1234567.89"),
    ("($1,234.00)", "-1234.00"),
    ("12,34,567.89", "1234567.89"),
    ("0,125", "0.125"),
    ("1.2345", "1.2345"),
    (".5", "0.5"),
    ("12 345 678,90", "12345678.90"),
    ("19 %", "19"),
    ("1.234.567", "1234567"),
    ("1,234,567", "1234567"),
    ("\u200f-1,234.50\u00a0€", "-1234.50"),
    ("150,- €", "150"),  # German "dash cents": not a minus
    ("150,--", "150"),
    ("1.500,–", "1500"),
    ("- 12,00", "-12.00"),
    ("2 Stk", "2"),
])
def test_parse_number_reads_locale_forms(text, value):
    parsed = parse_number(text)
    assert parsed.value == D(value)
    assert str(parsed.value) == value  # printed precision kept (12.00 stays 12.00)
    assert not parsed.ambiguous


@pytest.mark.parametrize("text, hint, value, ambiguous", [
    ("1.234", ",", "1234", False),
    ("1.234", ".", "1.234", False),
    ("1,234", ",", "1.234", False),
    ("1,234", ".", "1234", False),
    ("1.234", None, "1.234", True),
    ("1,234", None, "1234", True),
    ("0.125", ",", "0.125", False),  # a leading zero is never a thousands group
])
def test_three_digit_ambiguity_follows_the_hint(text, hint, value, ambiguous):
    parsed = parse_number(text, decimal_sep=hint)
    assert parsed.value == D(value) and parsed.ambiguous is ambiguous


@pytest.mark.parametrize("text", ["", "abc", "12 x 3", "1.2.3", "1,23,4", "1.234,5.6", "1 23,5", "--", "€", "1.5 250"])
def test_unreadable_numbers_raise_number_error(text):
    with pytest.raises(NumberError):
        parse_number(text)


def test_separator_inference_prefers_page_evidence_then_locale():
    assert infer_decimal_separator(["1.234", "12,50", "3,00"]) == ","
    assert infer_decimal_separator(["1.234", "1,234.50"]) == "."
    assert infer_decimal_separator(["1.234.567"]) == ","  # repeated "." groups
    assert infer_decimal_separator(["1.234"], locale="de_DE") == ","
    assert infer_decimal_separator(["1.234"], locale="en_US") == "."
    assert infer_decimal_separator(["1.234"]) is None
    assert infer_decimal_separator(["1.234"], locale="xx_NOPE") is None
    assert separator_evidence("n/a") is None


def test_fits_storage_rejects_what_decimal_18_6_cannot_hold():
    assert fits_storage(D("999999999999.999999"))
    assert fits_storage(D("0.1230000000"))  # trailing zeros beyond 6 places are harmless
    assert not fits_storage(D("0.0000001"))
    assert not fits_storage(D("1000000000000"))
    assert not fits_storage(D("NaN"))


LOCALES = ["en_US", "de_DE", "fr_FR", "de_CH", "en_IN", "it_IT", "pl_PL", "pt_BR", "nl_NL", "sv_SE", "ja_JP"]
amounts = st.decimals(min_value=D("-99999999.99"), max_value=D("99999999.99"), places=2, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(value=amounts, locale=st.sampled_from(LOCALES))
def test_reads_back_babel_format_decimal(value, locale):
    text = format_decimal(value, locale=locale, decimal_quantization=False)
    assert parse_number(text, decimal_sep=get_decimal_symbol(locale)).value == value


@settings(max_examples=60, deadline=None)
@given(value=amounts, locale=st.sampled_from(LOCALES), currency=st.sampled_from(["EUR", "USD", "CHF", "INR"]),
       fmt=st.sampled_from(["standard", "accounting"]))
def test_reads_back_babel_format_currency(value, locale, currency, fmt):
    text = format_currency(value, currency, locale=locale, format_type=fmt)
    assert parse_number(text, decimal_sep=get_decimal_symbol(locale)).value == value


@settings(max_examples=60, deadline=None)
@given(value=st.decimals(min_value=D("-9999999.999"), max_value=D("9999999.999"), places=3, allow_nan=False),
       locale=st.sampled_from(LOCALES))
def test_page_inference_settles_three_decimal_values(value, locale):
    # A page with one unambiguous amount fixes the separator for "1.234"-shaped ones.
    witness = format_decimal(D("1234.5"), locale=locale, format="#,##0.00")
    text = format_decimal(value, locale=locale, decimal_quantization=False)
    hint = infer_decimal_separator([witness, text])
    assert parse_number(text, decimal_sep=hint).value == value
