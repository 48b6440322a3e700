"""Labels may carry the documented non-field keys (the generator's truth records do); typos still fail."""

import pytest

from raxdoc.eval import EvalError, evaluate
from raxdoc.eval.truth import ITEM_EXTRA_KEYS, LABEL_EXTRA_KEYS, read_label
from raxdoc.schemas.invoice import Invoice
from raxdoc.testing.invoices import generate_invoice
from tests.eval.eval_files import invoice, write_output, write_truth


def test_a_generated_truth_record_is_a_label(tmp_path):
    truth = generate_invoice(3, locale="de_DE", pages=2).truth
    assert {"format", "pages", "meta"} <= set(truth) <= set(Invoice.model_fields) | LABEL_EXTRA_KEYS
    assert {"page_index", "bbox"} <= set(truth["line_items"][0]) and ITEM_EXTRA_KEYS == {"page_index", "bbox"}
    path = write_truth(tmp_path / "truth", {"inv": truth}) / "inv.json"
    keys = read_label(path, Invoice)
    assert len(keys.lists["line_items"]) == len(truth["line_items"])
    assert "bbox" not in keys.lists["line_items"][0] and "pages" not in keys.header


def test_extras_are_ignored_when_scoring(tmp_path):
    label = invoice()
    label.update(format="raxdoc-invoice-truth/1", meta={"seed": 1}, pages=[{"page_index": 0}])
    for n, item in enumerate(label["line_items"]):
        item.update(page_index=0, bbox=[0.1, 0.2 + n / 10, 0.9, 0.25 + n / 10])
    report = evaluate(write_output(tmp_path / "out", {"a": invoice()}), write_truth(tmp_path / "truth", {"a": label}))
    assert report.line_item_f1 == 1.0 and report.header_accuracy == 1.0
    assert report.line_items.tp == 12  # 3 items x 4 values: bbox / page_index add no places


@pytest.mark.parametrize("label,message", [
    ({"totl": "3"}, "unknown field(s) ['totl']"),
    ({"formats": "x"}, "unknown field(s) ['formats']"),
    ({"bbox": [0, 0, 1, 1]}, "unknown field(s) ['bbox']"),  # an item key, not a header one
    ({"line_items": [{"amout": "3", "bbox": [0, 0, 1, 1]}]}, "line_items[0]: unknown field(s) ['amout']"),
    ({"line_items": [{"amount": "3", "meta": {}}]}, "unknown field(s) ['meta']"),  # a header key, not an item one
])
def test_typos_beside_extras_are_still_errors(tmp_path, label, message):
    path = write_truth(tmp_path / "truth", {"broken": label}) / "broken.json"
    with pytest.raises(EvalError) as err:
        evaluate(write_output(tmp_path / "out", {"broken": invoice()}), path.parent)
    assert message in str(err.value) and "broken.json" in str(err.value)
