"""How labels find their documents (stem, file name, odd bytes), a split item's figures, and the
CLI's --json: checked before scoring, and the same figures as the Python API."""

import json
import os

import pytest
from typer.testing import CliRunner

from raxdoc.cli import app
from raxdoc.eval import EvalError, evaluate, to_json
from tests.eval.eval_files import invoice, write_output, write_truth


def test_labels_named_by_file_name_or_stem_dots_included(tmp_path):
    out = write_output(tmp_path / "out", {"a": invoice(), "inv.2025": invoice(), "c": invoice()})
    truth = write_truth(tmp_path / "truth", {"a.pdf": invoice(), "inv.2025": invoice(), "c.pdf.bak": invoice()})
    report = evaluate(out, truth)
    assert sorted(d.stem for d in report.documents) == ["a", "c.pdf.bak", "inv.2025"]
    assert report.missing == ["c.pdf.bak"] and report.unlabelled == ["c"]  # not a source's name: not guessed


def test_two_labels_for_one_document_are_an_error(tmp_path):
    out = write_output(tmp_path / "out", {"a": invoice()})
    with pytest.raises(EvalError, match="two labels name one document: 'a' and 'a.pdf'|'a.pdf' and 'a'"):
        evaluate(out, write_truth(tmp_path / "truth", {"a": invoice(), "a.pdf": invoice()}))


def test_a_file_name_that_is_not_utf8_finds_its_row_and_prints(tmp_path):
    # raxdoc writes such a source as a percent-encoded file:// URL (raxdoc.ingest.localfs.display).
    out = write_output(tmp_path / "out", {"x": {**invoice(), "source": "file:///in/%FF%FEinv.pdf"}})
    truth = tmp_path / "truth"
    truth.mkdir()
    for name in (b"\xff\xfeinv.json", b"\xfdother.json"):
        (truth / os.fsdecode(name)).write_text(json.dumps(invoice()))
    report = evaluate(out, truth)
    assert report.line_items.tp == 12 and report.missing == ["\\xfdother"]
    json.dumps(to_json(report)).encode("utf-8")  # no lone surrogates left to choke a strict reader


def test_an_item_split_in_two_is_one_match_and_an_extra_item(tmp_path):
    label = {"line_items": [{"description": "Widget A, blue", "quantity": 2, "unit_price": "10", "amount": "20"}]}
    predicted = {"line_items": [{"description": "Widget A,", "quantity": 2, "unit_price": "10", "amount": "20"},
                                {"description": "blue"}]}
    report = evaluate(write_output(tmp_path / "out", {"a": predicted}), write_truth(tmp_path / "truth", {"a": label}))
    items = report.lists["line_items"]
    # The first half pairs (3 values agree; its description is a FP and a FN), the second is an extra item.
    assert (items.true_items, items.predicted_items, items.matched_items) == (1, 2, 1)
    assert (items.total.tp, items.total.fp, items.total.fn) == (3, 2, 1)
    assert items.fields["description"].fp == 2 and items.fields["description"].fn == 1


def _cli(*args):
    result = CliRunner().invoke(app, ["eval", *map(str, args)])
    result.text = " ".join(result.output.split())
    return result


def test_a_json_path_that_cannot_be_written_fails_before_scoring(tmp_path):
    out = write_output(tmp_path / "out", {"a": invoice()})
    truth = write_truth(tmp_path / "truth", {"a": invoice()})
    for target, why in ((tmp_path, "is a folder"), (tmp_path / "no" / "f.json", "its folder does not exist")):
        result = _cli(out, truth, "--json", target)
        assert result.exit_code == 2 and why in result.text and "header fields" not in result.text
        assert "Traceback" not in result.output


def test_json_figures_round_trip_and_match_the_console(tmp_path):
    predicted = invoice()
    predicted["line_items"][0]["amount"] = "200.00"
    del predicted["currency"]
    out = write_output(tmp_path / "out", {"a": predicted})
    labels = tmp_path / "labels.csv"
    labels.write_text("file;currency;total;description;amount;note\n"
                      "a.pdf;EUR;145,50;Widget A;20,00;x\na.pdf;;;Widget B;5,50;\na.pdf;;;Service hour;120;\n")
    result = _cli(out, labels, "--json", tmp_path / "f.json")
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "f.json").read_text())
    assert figures == json.loads(json.dumps(to_json(evaluate(out, labels))))
    # Items: description 3 TP; amount 2 TP, 1 FP, 1 FN; predicted quantity / unit_price are 6 FP.
    s = figures["lists"]["line_items"]
    assert (s["tp"], s["fp"], s["fn"]) == (5, 7, 1) and s["fields"]["quantity"]["fp"] == 3
    assert figures["summary"]["line_item_f1"] == pytest.approx(10 / 18)
    assert f"line_items F1 │ {100 * 10 / 18:.1f}%" in result.text
    assert figures["header"]["currency"] == {"tp": 0, "fp": 0, "fn": 1, "places": 1, "precision": None,
                                             "recall": 0.0, "f1": 0.0, "accuracy": 0.0}
    assert figures["ignored_label_columns"] == ["note"] and "(ignored) (1): note" in result.text
    assert "their output status │ ok 1" in result.text
