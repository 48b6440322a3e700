"""`evaluate` on hand-made outputs and labels: each figure is counted by hand in the comments."""

import json

import pytest

from raxdoc.eval import EvalError, evaluate, to_json
from tests.eval.eval_files import invoice, write_output, write_truth

# invoice(): 5 header values; 3 items x 4 values (description, quantity, unit_price, amount) = 12.


def _score(tmp_path, predicted: dict, truth: dict):
    return evaluate(write_output(tmp_path / "out", predicted), write_truth(tmp_path / "truth", truth))


def test_exact_match_scores_one(tmp_path):
    label = {**invoice(), "tax_breakdown": [{"rate": 19, "base_amount": "100", "tax_amount": "19"}]}
    report = _score(tmp_path, {"a": label}, {"a": label})
    assert report.line_item_f1 == 1.0 and report.header_accuracy == 1.0
    items = report.line_items
    assert (items.tp, items.fp, items.fn) == (12, 0, 0)
    assert report.lists["line_items"].matched_items == 3
    assert report.lists["tax_breakdown"].total.tp == 3
    assert report.missing == [] and report.unlabelled == [] and report.statuses == {"ok": 1}


def test_a_misread_amount_is_one_false_positive_and_one_false_negative(tmp_path):
    predicted = invoice()
    predicted["line_items"][0]["amount"] = "200.00"
    predicted["total"] = "154.50"
    report = _score(tmp_path, {"a": predicted}, {"a": invoice()})
    items = report.line_items
    assert (items.tp, items.fp, items.fn) == (11, 1, 1)
    assert report.line_item_f1 == pytest.approx(22 / 24)
    amount = report.lists["line_items"].fields["amount"]
    assert (amount.tp, amount.fp, amount.fn, amount.precision) == (2, 1, 1, 2 / 3)
    total = report.header["total"]
    assert (total.tp, total.fp, total.fn) == (0, 1, 1)
    assert report.header_accuracy == pytest.approx(4 / 5)
    assert report.lists["line_items"].matched_items == 3  # the misread item still pairs with its truth


def test_a_dropped_and_an_extra_item(tmp_path):
    predicted = invoice()
    del predicted["line_items"][1]  # 4 values missed
    predicted["line_items"].append({"description": "Freight", "amount": "9.99"})  # 2 values invented
    report = _score(tmp_path, {"a": predicted}, {"a": invoice()})
    items = report.line_items
    assert (items.tp, items.fp, items.fn) == (8, 2, 4)
    assert report.line_item_f1 == pytest.approx(16 / 22)
    score = report.lists["line_items"]
    assert (score.true_items, score.predicted_items, score.matched_items) == (3, 3, 2)


def test_swapped_item_order_still_matches(tmp_path):
    predicted = invoice()
    predicted["line_items"].reverse()
    report = _score(tmp_path, {"a": predicted}, {"a": invoice()})
    assert report.line_item_f1 == 1.0


def test_equal_by_type_not_by_text(tmp_path):
    predicted = invoice()
    predicted.update(total="145.5", vendor_name="  acme   gmbh", currency="eur")
    predicted["line_items"][0]["description"] = "WIDGET A"
    report = _score(tmp_path, {"a": predicted}, {"a": invoice()})
    assert report.header_accuracy == 1.0 and report.line_item_f1 == 1.0


def test_a_value_where_the_label_has_none_is_a_false_positive(tmp_path):
    report = _score(tmp_path, {"a": {**invoice(), "due_date": "2025-04-01"}}, {"a": invoice()})
    due = report.header["due_date"]
    assert (due.tp, due.fp, due.fn, due.precision, due.recall) == (0, 1, 0, 0.0, None)
    assert report.header_accuracy == pytest.approx(5 / 6)


def test_a_document_missing_from_the_output_is_all_missed_and_listed(tmp_path):
    report = _score(tmp_path, {"a": invoice(), "c": invoice()}, {"a": invoice(), "b": invoice()})
    assert report.missing == ["b"] and report.unlabelled == ["c"]
    items = report.line_items
    assert (items.tp, items.fp, items.fn) == (12, 0, 12)  # c is not scored: no false positives from it
    assert (items.precision, items.recall) == (1.0, 0.5)
    assert report.statuses == {"ok": 1, "missing": 1}
    b = next(d for d in report.documents if d.stem == "b")
    assert b.source is None and b.header.fn == 5 and b.lists["line_items"].fn == 12


def test_an_error_row_is_scored_as_found_nothing(tmp_path):
    report = _score(tmp_path, {"a": {"status": "error", "error_type": "corrupt_document"}}, {"a": invoice()})
    assert report.missing == [] and report.statuses == {"error": 1}
    assert report.line_item_f1 == 0.0 and report.header_accuracy == 0.0


def test_every_part_is_read_and_the_json_is_complete(tmp_path):
    out = tmp_path / "out"
    write_output(out, {"a": invoice()}, part="part-0")
    write_output(out, {"b": invoice()}, part="part-1")
    report = evaluate(out, write_truth(tmp_path / "truth", {"a": invoice(), "b": invoice()}))
    figures = json.loads(json.dumps(to_json(report)))
    assert figures["summary"]["documents"] == 2 and figures["summary"]["line_item_f1"] == 1.0
    assert figures["lists"]["line_items"]["true_items"] == 6
    assert figures["header"]["due_date"]["precision"] is None  # every schema field, empty ones too
    assert [d["stem"] for d in figures["documents"]] == ["a", "b"]


def test_two_rows_with_one_stem_are_an_error(tmp_path):
    out = tmp_path / "out"
    write_output(out, {"a": invoice()}, part="part-0")
    write_output(out, {"a": invoice()}, part="part-1")
    with pytest.raises(EvalError, match="stem 'a'"):
        evaluate(out, write_truth(tmp_path / "truth", {"a": invoice()}))
