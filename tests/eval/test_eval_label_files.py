"""Labels made elsewhere: one CSV / TSV / JSON Lines / JSON / Parquet file, as spreadsheets and
labelling tools export them, scored exactly like a folder of per-document JSON."""

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raxdoc.eval import EvalError, evaluate
from tests.eval.eval_files import HEADER, ITEMS, invoice, write_output

# invoice(): 5 header values, 3 items x 4 values = 12 item places.


def _long_rows(doc: str, *, german: bool = False) -> list[dict]:
    """One row per item, header values repeated: what a spreadsheet export looks like."""
    rows = []
    for item in ITEMS:
        row = {**HEADER, **item, "file": doc}
        if german:
            row.update(total="EUR 1.145,50", subtotal="1 000,00", issue_date="01.03.2025",
                       unit_price=f"{float(item['unit_price']):.2f}".replace(".", ","),
                       amount=f"{float(item['amount']):,.2f}".replace(",", " ").replace(".", ","))
        rows.append(row)
    return rows


def _write_csv(path, rows: list[dict], *, delimiter=",", encoding="utf-8", columns=None):
    columns = columns or list(rows[0])
    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.DictWriter(f, columns, delimiter=delimiter, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def out(tmp_path):
    return write_output(tmp_path / "out", {"a": invoice(), "b": invoice()})


def _perfect(report, docs=2):
    assert report.missing == [] and report.unlabelled == []
    assert report.line_item_f1 == 1.0 and report.header_accuracy == 1.0
    assert report.line_items.tp == 12 * docs


def test_csv_one_row_per_item_with_bom_extra_columns_and_shuffled_order(tmp_path, out):
    rows = [{**r, "reviewer": "kim", "Notes": ""} for r in _long_rows("a") + _long_rows("/data/in/b.pdf")]
    columns = ["Notes", "amount", "file", "description", "reviewer", *HEADER, "unit_price", "quantity"]
    path = _write_csv(tmp_path / "labels.csv", rows, encoding="utf-8-sig", columns=columns)
    report = evaluate(out, path)
    _perfect(report)
    assert report.ignored_columns == ["notes", "reviewer"]


def test_a_german_excel_export(tmp_path):
    # ";" delimiter, decimal commas, "1.145,50" and "1 000,00" grouping, a currency code, dotted dates,
    # cp1252 ("Müller"), and column titles as people write them.
    docs = {d: {**invoice(), "total": "1145.50", "subtotal": "1000", "vendor_name": "Müller GmbH"} for d in "ab"}
    out = write_output(tmp_path / "out", docs)
    rows = [{("Invoice Number" if k == "invoice_number" else k): v for k, v in r.items()}
            for r in _long_rows("a.pdf", german=True) + _long_rows("b", german=True)]
    for row in rows:
        row["vendor_name"] = "Müller GmbH"
    path = _write_csv(tmp_path / "labels.csv", rows, delimiter=";", encoding="cp1252")
    report = evaluate(out, path)
    _perfect(report)
    assert report.header["subtotal"].tp == report.header["total"].tp == report.header["vendor_name"].tp == 2


def test_a_semicolon_file_reads_1_234_as_a_thousand(tmp_path):
    out = write_output(tmp_path / "out", {"a": {"total": "1234"}})
    path = _write_csv(tmp_path / "l.csv", [{"file": "a", "total": "1.234"}], delimiter=";")
    assert evaluate(out, path).header["total"].tp == 1


def test_ambiguous_numbers_follow_the_label_sets_evidence_or_fail(tmp_path):
    out = write_output(tmp_path / "out", {"a": {"total": "1234", "subtotal": "1000.5"}})
    settled = _write_csv(tmp_path / "l.csv", [{"file": "a", "total": "1,234", "subtotal": "1,000.50"}])
    assert evaluate(out, settled).header["total"].tp == 1  # "1,000.50" shows "." is the decimal separator
    alone = _write_csv(tmp_path / "m.csv", [{"file": "a", "total": "1,234"}])
    with pytest.raises(EvalError, match="ambiguous"):
        evaluate(out, alone)


def test_slashed_dates_take_the_order_the_file_shows(tmp_path):
    out = write_output(tmp_path / "out", {"a": {"issue_date": "2025-08-05"}, "b": {"issue_date": "2025-05-13"}})
    rows = [{"file": "a", "issue_date": "08/05/2025"}, {"file": "b", "issue_date": "05/13/2025"}]
    assert evaluate(out, _write_csv(tmp_path / "us.csv", rows)).header["issue_date"].tp == 2  # month first
    with pytest.raises(EvalError, match="day or month first"):
        evaluate(out, _write_csv(tmp_path / "x.csv", rows[:1]))


def test_jsonl_json_and_parquet_with_nested_items(tmp_path, out):
    docs = [{"source": "a.pdf", **invoice()}, {"source": "b.pdf", **invoice()}]
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text("\n".join(json.dumps(d) for d in docs) + "\n\n")
    _perfect(evaluate(out, jsonl))
    array = tmp_path / "labels.json"
    array.write_text(json.dumps(docs))
    _perfect(evaluate(out, array))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"a": invoice(), "b": invoice()}))
    _perfect(evaluate(out, mapping))
    table = pa.Table.from_pylist([{**d, "extra": 1.5} for d in docs])  # amounts as strings, items nested
    pq.write_table(table, tmp_path / "labels.parquet")
    report = evaluate(out, tmp_path / "labels.parquet")
    _perfect(report)
    assert report.ignored_columns == ["extra"]


def test_parquet_one_row_per_item_with_typed_columns_and_nulls(tmp_path, out):
    rows = []
    for doc in ("a", "b"):
        for item in ITEMS:
            rows.append({"stem": doc, "invoice_number": "INV-1", "total": 145.5, "currency": "EUR",
                         "vendor_name": "ACME GmbH", "issue_date": "2025-03-01", "due_date": None,
                         "description": item["description"], "quantity": float(item["quantity"]),
                         "unit_price": float(item["unit_price"]), "amount": float(item["amount"])})
    rows.append({"stem": "a", "due_date": float("nan")})  # a header-only row with pandas' NaN: no item, no value
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "labels.parquet")
    _perfect(evaluate(out, tmp_path / "labels.parquet"))


@pytest.mark.parametrize("text,message", [
    ("", "no rows"),
    ("file,total\n", "no rows"),
    ("total\n12\n", "no document column"),
    ("file,total\na,12\na,13\n", "two values for 'total'"),
    ("file,total\n,12\n", "no document in column 'file'"),
    ("file,total\na,12,13\n", "3 cells under 2 columns"),
    ("file,total,Total\na,1,1\n", "more than once"),
    ("file,total\na,twelve\n", "'total': 'twelve' is not a decimal number"),
    ("file,line_items\na,{\"amount\": 1}\n", "'line_items' must be a list of items"),
])
def test_broken_label_files_are_one_readable_error(tmp_path, out, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(EvalError) as err:
        evaluate(out, path)
    assert message in str(err.value) and "labels.csv" in str(err.value)


def test_a_document_given_whole_twice_is_an_error(tmp_path, out):
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(json.dumps({"file": "a", **invoice()}) for _ in range(2)))
    with pytest.raises(EvalError, match="second 'line_items' list"):
        evaluate(out, path)


def test_wrong_kinds_of_path(tmp_path, out):
    with pytest.raises(EvalError, match="do not exist"):
        evaluate(out, tmp_path / "nope.csv")
    (tmp_path / "labels.xlsx").write_bytes(b"PK")
    with pytest.raises(EvalError, match="expected a folder of <stem>.json or a label file"):
        evaluate(out, tmp_path / "labels.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(EvalError, match="as Parquet"):
        evaluate(out, tmp_path / "bad.parquet")
    (tmp_path / "bad.jsonl").write_text('{"file": "a"}\n{oops\n')
    with pytest.raises(EvalError, match="line 2 is not valid JSON"):
        evaluate(out, tmp_path / "bad.jsonl")
    (tmp_path / "ok.jsonl").write_text('{"file": "a"}\n')
    with pytest.raises(EvalError, match="output folder"):
        evaluate(tmp_path / "ok.jsonl", tmp_path / "ok.jsonl")


def test_a_folder_of_json_with_bom_and_printed_numbers(tmp_path, out):
    # The label set's unambiguous "5,50" shows the decimal comma, which then reads "120,000" as 120.
    truth = tmp_path / "truth"
    truth.mkdir()
    for doc in "ab":
        label = invoice()
        label.update(total="145,50 EUR", issue_date="1. März 2025")
        label["line_items"][1].update(unit_price="5,50", amount="€5,50")
        label["line_items"][2]["amount"] = "120,000"
        (truth / f"{doc}.json").write_text(json.dumps(label), encoding="utf-8-sig")
    _perfect(evaluate(out, truth))


def test_json_nested_past_the_stack_an_empty_object_and_a_folder_holding_a_label_file(tmp_path, out):
    (tmp_path / "deep").mkdir()
    for path in (tmp_path / "deep.json", tmp_path / "deep" / "a.json"):
        path.write_text("[" * 100_000)
        with pytest.raises(EvalError, match="not valid JSON"):
            evaluate(out, path if path.name == "deep.json" else path.parent)
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(EvalError, match="no rows"):
        evaluate(out, tmp_path / "empty.json")
    (tmp_path / "f").mkdir()
    _write_csv(tmp_path / "f" / "labels.csv", _long_rows("a"))
    with pytest.raises(EvalError, match="this folder holds labels.csv"):
        evaluate(out, tmp_path / "f")


def test_a_corrected_raxdoc_output_serves_as_labels(tmp_path, out):
    labels = write_output(tmp_path / "labels", {"a": invoice(), "b": invoice()})
    report = evaluate(out, next((labels / "documents").glob("*.parquet")))
    _perfect(report)
    # raxdoc's own columns and item keys are listed, not scored; a typo in an item key would be listed too.
    assert {"doc_id", "status", "line_items.grounded", "line_items.bbox"} <= set(report.ignored_columns)
