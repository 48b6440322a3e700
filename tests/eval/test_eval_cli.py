"""`raxdoc eval OUTPUT TRUTH_DIR`: a table and --json on success, exit 2 and one message on usage errors."""

import json

import pytest
from typer.testing import CliRunner

from raxdoc.cli import app
from tests.eval.eval_files import invoice, write_output, write_truth

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, ["eval", *map(str, args)])
    result.text = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    return result


def test_scores_a_folder_and_writes_the_figures(tmp_path):
    predicted = invoice()
    predicted["line_items"][0]["amount"] = "200.00"
    out = write_output(tmp_path / "out", {"a": predicted, "extra": invoice()})
    truth = write_truth(tmp_path / "truth", {"a": invoice(), "gone": invoice()})
    result = _run(out, truth, "--json", tmp_path / "figures.json")
    assert result.exit_code == 0, result.output
    assert "line_items F1" in result.text and "missing from output (1): gone" in result.text
    assert "without a label (1): extra" in result.text
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["summary"]["line_item_f1"] == pytest.approx(22 / 36)  # 2TP / (2TP + FP + FN): tp 11, fp 1, fn 1 + 12
    assert figures["missing_from_output"] == ["gone"] and figures["without_label"] == ["extra"]


def _usage_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.text
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_missing_folders_are_usage_errors(tmp_path):
    truth = write_truth(tmp_path / "truth", {"a": invoice()})
    out = write_output(tmp_path / "out", {"a": invoice()})
    _usage_error(_run(tmp_path / "nowhere", truth), "output folder")
    _usage_error(_run(out, tmp_path / "nowhere"), "do not exist")


def test_no_documents_is_a_usage_error(tmp_path):
    (tmp_path / "out" / "documents").mkdir(parents=True)
    (tmp_path / "truth").mkdir()
    _usage_error(_run(tmp_path / "out", write_truth(tmp_path / "truth", {"a": invoice()})), "no documents")
    out = write_output(tmp_path / "out2", {"a": invoice()})
    _usage_error(_run(out, tmp_path / "truth_empty"), "do not exist")
    (tmp_path / "truth_empty").mkdir()
    _usage_error(_run(out, tmp_path / "truth_empty"), "no labelled documents")


@pytest.mark.parametrize("label,message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold one JSON object"),
    ('{"totl": 3}', "unknown field(s) ['totl']"),
    ('{"issue_date": "05/08/2025"}', "ambiguous (day or month first?)"),
    ('{"issue_date": "soon"}', "is not a date"),
    ('{"line_items": [{"amount": "1,2,3"}]}', "line_items[0]"),
    ('{"line_items": [{"amount": "12 and 13"}]}', "is not a decimal number"),
])
def test_unreadable_labels_are_usage_errors_naming_the_file(tmp_path, label, message):
    out = write_output(tmp_path / "out", {"a": invoice()})
    result = _run(out, write_truth(tmp_path / "truth", {"a": invoice(), "broken": label}))
    _usage_error(result, message)
    assert "broken.json" in result.text


def test_a_bad_schema_is_a_usage_error(tmp_path):
    out = write_output(tmp_path / "out", {"a": invoice()})
    result = _run(out, write_truth(tmp_path / "truth", {"a": invoice()}), "--schema", "no_such_module:Invoice")
    assert result.exit_code == 2 and "Traceback" not in result.output
