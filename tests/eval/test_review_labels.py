"""Review findings on label files: a document cell that is a list or an object (JSON, JSON Lines,
Parquet) is one EvalError line naming the row, never a TypeError traceback."""

from __future__ import annotations

import json

import pytest

from raxdoc.eval.truth import load_truth
from raxdoc.eval.values import EvalError
from raxdoc.schemas import Invoice


@pytest.mark.parametrize("cell", [["a.pdf"], {"name": "a.pdf"}])
@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_a_document_cell_that_is_not_a_name_is_one_error(tmp_path, cell, suffix):
    row = {"file": cell, "invoice_number": "7"}
    path = tmp_path / f"labels{suffix}"
    path.write_text(json.dumps(row) + "\n" if suffix == ".jsonl" else json.dumps([row]))
    with pytest.raises(EvalError, match=r"row 1: .*document.*'file'"):
        load_truth(path, Invoice)


def test_a_parquet_document_column_of_lists_is_one_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "labels.parquet"
    pq.write_table(pa.table({"file": [["a.pdf"]], "invoice_number": ["7"]}), path)
    with pytest.raises(EvalError, match=r"row 1: .*document.*'file'"):
        load_truth(path, Invoice)


def test_numbers_as_document_names_still_work(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps({"file": 1042, "invoice_number": "7"}) + "\n")
    assert set(load_truth(path, Invoice).labels) == {"1042"}
