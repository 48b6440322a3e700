"""The stand-in reader: exact copies of the printed values at noise 0, logged VLM-like errors above it."""

import json
import random
from collections import Counter

import pytest

from raxdoc.postprocess import parse_document
from raxdoc.schemas.invoice import Invoice
from raxdoc.testing.invoices import LOCALES, generate_invoice
from raxdoc.testing.standin import CONFUSIONS, ITEM_ERRORS, load_truth, misread, page_rng, read_page, read_pages

SEEDS = [(seed, LOCALES[seed % len(LOCALES)]) for seed in range(10)]


@pytest.fixture(scope="module")
def truths():
    return [generate_invoice(seed, locale=locale).truth for seed, locale in SEEDS]


def _parsed(truth, texts):
    return parse_document(texts, constrained=True, locale=truth["meta"]["locale"])


def test_noise_zero_parses_into_exactly_the_truth(truths):
    for truth in truths:
        texts, injected = read_pages(truth)
        assert injected == [] and len(texts) == truth["meta"]["page_count"]
        doc = _parsed(truth, texts)
        assert doc.status == "ok" and doc.issues == ()
        got, want = doc.record.model_dump(), Invoice.model_validate(truth).model_dump()
        assert got == want  # header fields, tax rows and items (page_index included), all normalised
        checks = doc.checks
        assert all(checks.line_amount_ok) and checks.lines_sum_subtotal and checks.subtotal_tax_total


def test_page_json_shows_only_that_pages_values_as_printed(truths):
    truth = next(t for t in truths if t["meta"]["page_count"] > 1)
    first, last = (json.loads(read_page(truth, p, rng=0)[0]) for p in (0, truth["meta"]["page_count"] - 1))
    assert first["vendor_name"] == truth["vendor_name"] and "total" not in first
    assert last["total"] == truth["pages"][-1]["fields"]["total"] and "vendor_name" not in last
    assert [i["amount"] for i in first["line_items"]] == [
        r["printed"]["amount"] for r in truth["pages"][0]["line_items"]]
    order = list(Invoice.model_fields)
    assert list(first) == sorted(first, key=order.index)  # schema order, as constrained decoding writes


def test_noise_injects_at_about_the_rate_and_logs_each_error(truths):
    items = sum(len(t["line_items"]) for t in truths)
    log, outputs = [], []
    for k, truth in enumerate(truths):
        texts, injected = read_pages(truth, seed=7, noise=0.1, doc_key=str(k))
        outputs.append([json.loads(t) for t in texts])
        log.extend(injected)
        assert len({e.item_index for e in injected if e.kind in ITEM_ERRORS}) == sum(
            e.kind in ITEM_ERRORS for e in injected)  # one error per item at most
        # Each logged error is in the text: counts follow drops and repeats, values follow misreads.
        written = sum(len(page["line_items"]) for page in outputs[-1])
        kinds = Counter(e.kind for e in injected)
        assert written == len(truth["line_items"]) - kinds["dropped_line"] + kinds["repeated_line"]
        for e in injected:
            page = outputs[-1][e.page_index]
            if e.kind == "misread_total":
                assert page[e.field] == e.after != e.before == truth["pages"][e.page_index]["fields"][e.field]
            elif e.kind in ("misread_digit", "cut_description"):
                name = e.field.rsplit(".", 1)[1]
                assert e.before == truth["pages"][e.page_index]["line_items"][int(e.field[11:].split("]")[0])][
                    "printed"][name] != e.after
                assert any(i.get(name) == e.after for i in page["line_items"])
    item_errors = [e for e in log if e.kind in ITEM_ERRORS]
    assert 0.06 * items <= len(item_errors) <= 0.14 * items, (len(item_errors), items)
    assert {e.kind for e in log} == set(ITEM_ERRORS) | {"misread_total"}
    assert all(json.loads(json.dumps(e.to_dict())) == e.to_dict() for e in log)


def test_misread_digits_fail_the_line_check_after_parsing(truths):
    caught, misread_lines = 0, 0
    for k, truth in enumerate(truths):
        texts, log = read_pages(truth, seed=3, noise=0.15, doc_key=str(k), kinds=("misread_digit",))
        doc = _parsed(truth, texts)
        assert doc.pages_ok == len(texts) and len(doc.record.line_items) == len(truth["line_items"])
        bad = {e.item_index for e in log if e.kind == "misread_digit"}
        failed = {i for i, ok in enumerate(doc.checks.line_amount_ok) if ok is False}
        assert failed <= bad  # clean lines always pass
        misread_lines, caught = misread_lines + len(bad), caught + len(failed)
    # Not all: the check's rounding tolerance lets a 1-cent misread of a discount through.
    assert misread_lines > 10 and caught >= 0.9 * misread_lines


def test_same_rng_same_output_and_pages_are_independent(truths):
    truth = truths[2]
    a = read_page(truth, 0, rng=random.Random(5), noise=0.3)
    assert a == read_page(truth, 0, rng=random.Random(5), noise=0.3)
    assert a != read_page(truth, 0, rng=random.Random(6), noise=0.3)
    assert page_rng(1, "doc", 0).random() == page_rng(1, "doc", 0).random() != page_rng(1, "doc", 1).random()
    with pytest.raises(ValueError, match="noise"):
        read_page(truth, 0, rng=0, noise=1.5)
    with pytest.raises(ValueError, match="kinds"):
        read_page(truth, 0, rng=0, kinds=("hallucination",))


def test_misread_changes_one_digit_to_a_look_alike():
    rng = random.Random(0)
    for text in ["1.234,56", "1\u202f000,00", "0.50", "19 %"]:
        for _ in range(20):
            wrong = misread(text, rng)
            diff = [(a, b) for a, b in zip(text, wrong) if a != b]
            assert len(wrong) == len(text) and len(diff) == 1 and diff[0][1] in CONFUSIONS[diff[0][0]]
    with pytest.raises(ValueError):
        misread("n/a", rng)


def test_load_truth_reads_the_json_beside_the_pdf(tmp_path, truths):
    (tmp_path / "inv-0001.json").write_text(json.dumps(truths[0], ensure_ascii=False))
    assert load_truth(tmp_path / "inv-0001.pdf") == truths[0]
