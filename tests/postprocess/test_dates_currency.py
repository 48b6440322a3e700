import datetime as dt

import pytest
from babel.dates import format_date
from hypothesis import given, settings
from hypothesis import strategies as st

from raxdoc.postprocess.currency import CurrencyError, currency_code, currency_in_text
from raxdoc.postprocess.date_order import infer_date_order
from raxdoc.postprocess.dates import DateError, locale_date_order, numeric_separator, parse_date

D = dt.date


@pytest.mark.parametrize("text, order, locale, value", [
    ("13/03/2024", None, None, D(2024, 3, 13)),
    ("03/13/2024", None, None, D(2024, 3, 13)),
    ("05/03/2024", "DMY", None, D(2024, 3, 5)),
    ("05/03/2024", "MDY", None, D(2024, 5, 3)),
    ("2024-03-05", "MDY", None, D(2024, 3, 5)),  # ISO is never reordered
    ("2024-03-05T10:30:00Z", None, None, D(2024, 3, 5)),
    ("5.3.24", "DMY", None, D(2024, 3, 5)),
    ("31.12.99", "DMY", None, D(1999, 12, 31)),
    ("12 März 2024", None, "de_DE", D(2024, 3, 12)),
    ("March 5, 2024", None, None, D(2024, 3, 5)),
    ("5 mars 2024", None, "fr_FR", D(2024, 3, 5)),
    ("1er avril 2023", None, None, D(2023, 4, 1)),
])
def test_parse_date_forms(text, order, locale, value):
    assert parse_date(text, order=order, locale=locale).value == value


def test_ambiguous_numeric_date_is_flagged_not_hidden():
    got = parse_date("05/03/2024")
    assert got.value == D(2024, 3, 5) and got.ambiguous
    assert not parse_date("05/03/2024", order="DMY").ambiguous
    assert not parse_date("05/05/2024").ambiguous  # same either way


@pytest.mark.parametrize("text", ["", "hello", "31/02/2024", "March 2024", "12/13/14/15", "2024-13-01"])
def test_bad_dates_raise_date_error(text):
    with pytest.raises(DateError):
        parse_date(text, order="DMY")


def test_numeric_separator_names_the_shape():
    assert [numeric_separator(t) for t in ("05.08.2025", "8/5/25", "2025-08-05", "Aug 5, 2025", "5.8")] == \
        [".", "/", "-", None, None]


def test_date_order_from_other_dates_then_locale():
    assert infer_date_order(["05/03/2024", "13/03/2024"]) == "DMY"  # day 13 fixes it
    assert infer_date_order(["05/03/2024", "03/13/2024"]) == "MDY"
    assert infer_date_order(["05/03/2024"], locale="en_US") == "MDY"
    assert infer_date_order(["05/03/2024"], locale="de_DE") == "DMY"
    assert infer_date_order(["05/03/2024", "2024-03-13"]) is None  # ISO says nothing about the others
    assert infer_date_order(["05/03/2024", "Dec 26, 2025"]) == "MDY"  # the month-name date's order
    assert infer_date_order(["05.03.2024"]) == "DMY"  # dotted dates are written day-first
    assert locale_date_order("ja_JP") == "YMD"


@settings(max_examples=40, deadline=None)
@given(day=st.dates(min_value=D(2000, 1, 1), max_value=D(2068, 12, 31)),
       locale=st.sampled_from(["en_US", "de_DE", "fr_FR", "en_GB", "it_IT", "nl_NL"]))
def test_reads_back_babel_short_dates_with_locale_order(day, locale):
    text = format_date(day, format="short", locale=locale)
    order = infer_date_order([text], locale=locale)
    assert parse_date(text, order=order, locale=locale).value == day


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=40))
def test_parse_date_only_raises_date_error(text):
    try:
        parse_date(text)
    except DateError:
        pass


@pytest.mark.parametrize("text, locale, code", [
    ("€", None, "EUR"), ("EUR", None, "EUR"), ("eur", None, "EUR"), ("euros", None, "EUR"),
    ("Euro", None, "EUR"), ("US dollars", None, "USD"), ("$", None, "USD"), ("$", "en_CA", "CAD"),
    ("US$", None, "USD"), ("kr", "sv_SE", "SEK"), ("kr.", "da_DK", "DKK"), ("Fr.", None, "CHF"),
    ("CHF", None, "CHF"), ("zł", None, "PLN"), ("£", None, "GBP"), ("¥", "zh_CN", "CNY"),
    ("¥", None, "JPY"), ("₹", None, "INR"), ("Rs.", "en_IN", "INR"), ("Kč", None, "CZK"),
    ("Schweizer Franken", None, "CHF"), ("R$", None, "BRL"),
])
def test_currency_to_iso(text, locale, code):
    assert currency_code(text, locale=locale) == code


@pytest.mark.parametrize("text", ["xyz", "", "kr", "money"])
def test_unknown_or_ambiguous_currency_raises(text):
    with pytest.raises(CurrencyError):
        currency_code(text)


def test_currency_next_to_an_amount():
    assert currency_in_text("1.234,56 EUR") == "EUR"
    assert currency_in_text("€ 1.234,56") == "EUR"
    assert currency_in_text("USD 12") == "USD"
    assert currency_in_text("12.00") is None
