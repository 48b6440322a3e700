"""bench/quality.py: its figures on hand-made outputs, and the whole benchmark on two invoices."""

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "quality.py"


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("bench_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_iou(quality):
    assert quality.iou([0, 0, 1, 1], [0, 0, 0.5, 1]) == pytest.approx(0.5)
    assert quality.iou([0.1, 0.1, 0.2, 0.2], [0.1, 0.1, 0.2, 0.2]) == pytest.approx(1.0)
    assert quality.iou([0, 0, 0.1, 0.1], [0.5, 0.5, 0.6, 0.6]) == 0.0
    assert quality.iou([0, 0, 1, 1], None) == 0.0


TRUTHS = {"a": {"line_items": [
    {"description": "Bolt M8", "quantity": "2", "unit_price": "1.50", "amount": "3.00", "bbox": [0.1, 0.2, 0.9, 0.25]},
    {"description": "Nut M8", "quantity": "4", "unit_price": "0.25", "amount": "1.00", "bbox": [0.1, 0.3, 0.9, 0.35]},
    {"description": "Washer", "quantity": "10", "unit_price": "0.10", "amount": "1.00", "bbox": [0.1, 0.4, 0.9, 0.45]},
], "total": "5.00"}}


def _docs(**item_extra):
    """Output rows: the first item's amount misread (3.00 -> 8.00), the third line dropped."""
    items = [dict(TRUTHS["a"]["line_items"][0], amount="8.00", item_index=0),
             dict(TRUTHS["a"]["line_items"][1], item_index=1)]
    for item in items:
        item.pop("bbox")
        item.update(item_extra)
    return {"a": {"line_items": items, "total": "5.00", "issues": []}}


LOG = [{"stem": "a", "kind": "misread_digit", "page_index": 0, "field": "line_items[0].amount", "item_index": 0},
       {"stem": "a", "kind": "dropped_line", "page_index": 0, "field": "line_items[2]", "item_index": 2},
       {"stem": "a", "kind": "misread_total", "page_index": 0, "field": "total", "item_index": None}]


def test_items_are_paired_by_evals_matching(quality):
    pairs = quality.match_documents(TRUTHS, _docs())
    assert pairs == {"a": {0: 0, 1: 1}}  # the misread item still pairs (3 of 4 fields agree)


def test_bbox_iou_is_na_without_the_column_and_averaged_with_it(quality):
    docs = _docs()
    pairs = quality.match_documents(TRUTHS, docs)
    assert quality.bbox_iou(TRUTHS, docs, pairs, {"description", "amount"}) == "n/a"
    docs["a"]["line_items"][0]["bbox"] = [0.1, 0.2, 0.9, 0.25]  # exact
    docs["a"]["line_items"][1]["bbox"] = [0.5, 0.3, 0.9, 0.35]  # half the truth's width
    got = quality.bbox_iou(TRUTHS, docs, pairs, {"bbox"})
    assert got["mean"] == pytest.approx(0.75) and got["items"] == 2 and got["null_boxes"] == 0
    docs["a"]["line_items"][1]["bbox"] = None
    assert quality.bbox_iou(TRUTHS, docs, pairs, {"bbox"})["mean"] == pytest.approx(0.5)


def test_misreads_count_as_right_marked_or_neither(quality):
    pairs = quality.match_documents(TRUTHS, _docs())
    plain = quality.misread_outcomes(TRUTHS, _docs(), pairs, LOG)
    assert plain["misread_digit"] == {"right_or_marked": 0.0, "errors": 1, "neither": 1}
    assert plain["misread_total"] == {"right_or_marked": 1.0, "errors": 1, "right": 1}  # the total came out right
    checked = quality.misread_outcomes(TRUTHS, _docs(check_amount=False), pairs, LOG)["misread_digit"]
    assert checked["right_or_marked"] == 1.0 and checked["marked_check_amount"] == 1
    flagged = _docs(unverified_fields=["amount"])
    assert quality.misread_outcomes(TRUTHS, flagged, pairs, LOG)["misread_digit"]["marked_unverified"] == 1
    for field, counts in (("line_items[0].amount", True), ("line_items[1].amount", False), ("tax_amount", False)):
        docs = _docs()
        docs["a"]["issues"] = [{"page_index": 0, "kind": "corrected_from_text", "field": field, "message": ""}]
        got = quality.misread_outcomes(TRUTHS, docs, pairs, LOG)["misread_digit"]
        assert (got["right_or_marked"] == 1.0) is counts, field
    fixed = _docs()
    fixed["a"]["line_items"][0]["amount"] = "3.00"
    assert quality.misread_outcomes(TRUTHS, fixed, pairs, LOG)["misread_digit"]["right"] == 1


def test_dropped_lines_are_na_without_the_issue_kind(quality):
    docs = _docs()
    assert quality.dropped_reported(docs, LOG)["share"] == "n/a"
    docs["a"]["issues"] = [{"page_index": 0, "kind": "possibly_missed_line", "field": "", "message": "Washer 10"}]
    assert quality.dropped_reported(docs, LOG) == {"share": 1.0, "dropped": 1, "reported": 1,
                                                   "possibly_missed_line_issues": 1}
    docs["a"]["issues"][0]["page_index"] = 1  # on another page: not this line's report
    assert quality.dropped_reported(docs, LOG)["share"] == 0.0


def test_clean_items_marked_and_targets(quality):
    docs = _docs(grounded=True, unverified_fields=[])
    pairs = quality.match_documents(TRUTHS, docs)
    assert quality.clean_items_marked(TRUTHS, docs, pairs, {"amount"}, LOG) == "n/a"
    docs["a"]["line_items"][1]["grounded"] = False  # item 1 had no injected error
    assert quality.clean_items_marked(TRUTHS, docs, pairs, {"grounded"}, LOG) == {"share": 1.0, "marked": 1,
                                                                                   "items": 1}
    run = {"noise": 0.1, "line_item_f1": 0.99, "bbox_iou": "n/a", "clean_items_marked": {"share": 0.05},
           "misread_digit": {"right_or_marked": 0.97}, "dropped_line": {"share": "n/a"}}
    assert quality.targets(run) == {"line_item_f1": "ok", "misread_digits_right_or_marked": "ok",
                                    "clean_items_marked": "MISSED", "dropped_lines_reported": "n/a"}


@pytest.mark.slow
def test_the_benchmark_runs_on_two_invoices(quality, tmp_path):
    out = tmp_path / "quality.json"
    result = quality.main(["--docs", "2", "--noise", "0", "0.5", "--no-warmup", "--out", str(out)])
    written = json.loads(out.read_text())
    assert written == result
    assert {"device", "commit", "date", "command", "runs", "locales"} <= written.keys()
    perfect, noisy = written["runs"]
    assert perfect["line_item_f1"] == 1.0 and perfect["header_accuracy"] == 1.0 and perfect["injected"] == {}
    assert perfect["documents"] == 2 and perfect["documents_per_s"] > 0
    assert perfect["fields"]["line_items"]["amount"]["recall"] == 1.0
    # Errors were injected; the text layer repairs most of them, so F1 stays high (may reach 1.0).
    assert sum(noisy["injected"].values()) > 0 and 0.9 <= noisy["line_item_f1"] <= 1.0
    assert noisy["misread_digit"]["errors"] == noisy["injected"].get("misread_digit", 0)
    assert noisy["dropped_line"]["dropped"] == noisy["injected"].get("dropped_line", 0)


def test_results_keep_the_other_section(quality):
    digital, scanned = {"runs": [1], "documents": 24}, {"runs": [2], "ocr_cost": {}}
    both = quality.merged(digital, scanned, scanned=True)
    assert both == {"runs": [1], "documents": 24, "scanned_ocr": scanned}
    again = quality.merged(both, {"runs": [3], "documents": 24}, scanned=False)
    assert again == {"runs": [3], "documents": 24, "scanned_ocr": scanned}
    assert quality.merged({}, scanned, scanned=True) == {"scanned_ocr": scanned}
    assert quality.merged({}, digital, scanned=False) == digital


def test_scans_and_ocr_cost(quality, tmp_path):
    """The scanned corpus keeps each truth beside its scan, which has no text; OCR alone is timed."""
    import pymupdf

    from raxdoc.testing.invoices import write_corpus

    pdfs = write_corpus(tmp_path / "corpus", 1, seed=3, pages=1)
    scans = quality.scan_corpus(pdfs, tmp_path / "scans", dpi=100)
    assert [p.name for p in scans] == [p.name for p in pdfs] and scans[0].with_suffix(".json").exists()
    assert pymupdf.open(scans[0])[0].get_text().strip() == ""
    cost = quality.ocr_cost(scans, pages=1)
    assert cost["pages"] == 1 and cost["pages_per_s_per_core"] > 0 and cost["median_words_per_page"] > 20
    assert cost["recogniser_min_width_px"] == 48  # batches padded to their widest crop, not to 320 px
