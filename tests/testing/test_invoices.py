"""The synthetic invoice generator: real text layers where the truth says, exact arithmetic, variety."""

import json
import random
import re
from decimal import Decimal

import pytest

from raxdoc.ingest import read_document
from raxdoc.schemas.invoice import Invoice
from raxdoc.testing.invoice_layout import COLUMN_ORDER, Layout
from raxdoc.testing.invoice_locale import STYLES
from raxdoc.testing.invoices import LOCALES, TRUTH_FORMAT, generate_invoice, write_corpus

TOL = 0.004  # normalised units: pixel rounding at a low test DPI
ALL = Layout(COLUMN_ORDER, repeat_header=False, continuation_header=True, bank_in_footer=True, named_dates=False,
             row_rules=True, carry_forward=True, long_share=0.6)
MINIMAL = Layout(("description", "quantity", "unit_price", "amount"), repeat_header=True,
                 continuation_header=False, bank_in_footer=False, named_dates=True, row_rules=False,
                 carry_forward=False)


def _words(page):
    """{token: [normalised box]} of a rendered page's text layer (trailing commas dropped)."""
    out: dict[str, list] = {}
    for w in page.words:
        box = (w.x0 / page.width, w.y0 / page.height, w.x1 / page.width, w.y1 / page.height)
        out.setdefault(w.text.rstrip(","), []).append(box)
    return out


def _inside(box, outer):
    return (box[0] >= outer[0] - TOL and box[1] >= outer[1] - TOL and box[2] <= outer[2] + TOL
            and box[3] <= outer[3] + TOL)


def _found(words, text, outer):
    """Every space-separated token of `text` is a word of the page lying inside `outer`.

    MuPDF splits words at spaces, not at the narrow no-break space of "1\u202f234,56"
    (which str.split would cut).
    """
    tokens = [t for t in text.split(" ") if t]
    return all(any(_inside(b, outer) for b in words.get(tok.rstrip(","), [])) for tok in tokens)


@pytest.mark.parametrize("locale,pages,layout", [
    ("de_DE", 2, ALL), ("fr_FR", 1, MINIMAL), ("en_US", 3, None), ("en_GB", 2, MINIMAL), ("de_CH", 1, ALL)])
def test_text_layer_holds_every_printed_value_inside_its_truth_box(locale, pages, layout):
    inv = generate_invoice(11, locale=locale, pages=pages, layout=layout)
    truth = inv.truth
    with read_document(inv.pdf, dpi=40, min_pixels=1) as doc:
        assert doc.page_count == pages == truth["meta"]["page_count"]
        rendered = [doc.page(i) for i in range(pages)]
    for page, printed in zip(rendered, truth["pages"]):
        assert page.kind == "digital"
        words = _words(page)
        assert printed["line_items"], "every page carries part of the table"
        for row in printed["line_items"]:
            item = truth["line_items"][row["item_index"]]
            assert item["page_index"] == printed["page_index"]
            for name, text in row["printed"].items():
                assert _found(words, text, item["bbox"]), (name, text, item["bbox"])
                assert _found(words, text, row["boxes"][name]), (name, text)
        for name, text in printed["fields"].items():
            assert _found(words, text, printed["field_boxes"][name]), (name, text)


def test_item_box_is_the_union_of_its_values_and_not_larger():
    truth = generate_invoice(3, locale="de_DE", pages=2, layout=ALL).truth
    for page in truth["pages"]:
        for row in page["line_items"]:
            boxes = list(row["boxes"].values())
            union = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                     max(b[3] for b in boxes)]
            assert truth["line_items"][row["item_index"]]["bbox"] == pytest.approx(union, abs=1e-5)
            assert 0 <= union[0] < union[2] <= 1 and 0 <= union[1] < union[3] <= 1


@pytest.mark.parametrize("seed", range(8))
def test_truth_arithmetic_holds_and_reads_as_an_invoice(seed):
    truth = generate_invoice(seed).truth
    assert truth["format"] == TRUTH_FORMAT
    assert json.loads(json.dumps(truth)) == truth
    inv = Invoice.model_validate(truth)
    assert inv.line_items and inv.total is not None and inv.invoice_number == truth["invoice_number"]
    for item in inv.line_items:
        assert item.quantity * item.unit_price - (item.discount or 0) == item.amount
    assert sum(i.amount for i in inv.line_items) == inv.subtotal
    assert sum(r.base_amount for r in inv.tax_breakdown) == inv.subtotal
    assert sum(r.tax_amount for r in inv.tax_breakdown) == inv.tax_total
    for r in inv.tax_breakdown:
        assert abs(r.base_amount * r.rate / 100 - r.tax_amount) <= Decimal("0.005")
    assert inv.subtotal + inv.tax_total == inv.total
    assert inv.issue_date <= inv.due_date
    assert inv.currency in ("USD", "EUR", "GBP", "CHF")
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", truth[k]) for k in ("subtotal", "tax_total", "total"))


def test_locales_print_numbers_and_dates_their_own_way():
    printed = {}
    for locale in LOCALES:
        truth = generate_invoice(5, locale=locale, pages=1, layout=ALL).truth
        fields = truth["pages"][0]["fields"]
        printed[locale] = (fields["issue_date"], truth["pages"][-1]["fields"]["total"])
        assert truth["meta"]["locale"] == locale and truth["currency"] == STYLES[locale].currency
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", printed["en_US"][0])
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4}", printed["de_DE"][0])
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", printed["fr_FR"][0])
    assert re.fullmatch(r"[\d,]+\.\d\d", printed["en_US"][1])
    assert re.fullmatch(r"[\d.]+,\d\d", printed["de_DE"][1])
    assert re.fullmatch(r"[\d\u202f]+,\d\d", printed["fr_FR"][1])
    assert re.fullmatch(r"[\d']+\.\d\d", printed["de_CH"][1])
    named = generate_invoice(5, locale="en_US", pages=1, layout=MINIMAL).truth["pages"][0]["fields"]
    assert re.fullmatch(r"[A-Z][a-z]{2,4} \d{1,2}, \d{4}", named["issue_date"])
    german = generate_invoice(5, locale="de_DE", pages=1, layout=MINIMAL).truth["pages"][0]["fields"]
    assert re.fullmatch(r"\d{1,2}\. [A-ZÄ][a-zä]+ \d{4}", german["issue_date"])


def test_layouts_vary_columns_wrapping_and_pages():
    assert len({Layout.random(random.Random(s)).columns for s in range(10)}) >= 4
    full = generate_invoice(2, locale="en_GB", pages=3, layout=ALL).truth
    assert {"product_code", "unit", "tax_rate"} <= set().union(*full["line_items"])
    assert any("discount" in i for i in full["line_items"]) and any("discount" not in i for i in full["line_items"])
    assert len({i["page_index"] for i in full["line_items"]}) == 3
    # A wrapped description spans two text lines: its box is taller than a one-line row's.
    heights = [p["line_items"][k]["boxes"]["description"] for p in full["pages"] for k in range(len(p["line_items"]))]
    tall = [b[3] - b[1] for b in heights]
    assert max(tall) > 1.8 * min(tall)
    bare = generate_invoice(2, locale="en_GB", pages=1, layout=MINIMAL).truth
    assert set().union(*bare["line_items"]) == {"description", "quantity", "unit_price", "amount", "page_index", "bbox"}
    # Totals only on the last page; the continuation header repeats the invoice number.
    assert all("total" not in p["fields"] for p in full["pages"][:-1]) and "total" in full["pages"][-1]["fields"]
    assert full["pages"][1]["fields"]["invoice_number"] == full["invoice_number"]


def test_table_header_repeats_only_when_the_layout_says_so():
    def header_rows(layout):
        inv = generate_invoice(4, locale="en_GB", pages=3, layout=layout)
        with read_document(inv.pdf, dpi=30, min_pixels=1) as doc:
            return [sum(w.text == "Description" for w in doc.page(i).words) for i in range(3)]
    assert header_rows(ALL) == [1, 0, 0]
    assert header_rows(MINIMAL) == [1, 1, 1]


def test_same_seed_same_bytes_and_corpus_on_disk(tmp_path):
    assert generate_invoice(9).pdf == generate_invoice(9).pdf
    assert generate_invoice(9).truth != generate_invoice(10).truth
    paths = write_corpus(tmp_path, 5, seed=1)
    assert [p.name for p in paths] == [f"inv-{i:04d}.pdf" for i in range(5)]
    truths = [json.loads(p.with_suffix(".json").read_text()) for p in paths]
    assert [t["meta"]["locale"] for t in truths] == list(LOCALES)
    assert all(p.read_bytes().startswith(b"%PDF") for p in paths)
    with pytest.raises(ValueError, match="columns"):
        Layout(("description", "amount"), True, True, True, True, True, True)
    with pytest.raises(ValueError, match="currency"):
        generate_invoice(1, currency="JPY")
