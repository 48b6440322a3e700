"""Hostile names and files through the whole run (one Ray run): every input exactly one row."""

from __future__ import annotations

import os
import threading

import pandas as pd
import pyarrow as pa
import pytest

import raxdoc
from raxdoc.pipeline.rows import RowKind, StageRow, to_wire

from tests.pipeline.test_extract import PROFILE


def test_a_lone_surrogate_anywhere_in_a_row_still_makes_an_arrow_row():
    row = StageRow("source:x", "/in/bad\udcff.pdf", RowKind.DOC_ERROR, error_type="source_unreadable",
                   error="cannot read '/in/bad\udcff.pdf'")
    wire = to_wire(row)
    table = pa.Table.from_pylist([wire])  # raised UnicodeEncodeError: the whole block was lost
    assert table.column("error")[0].as_py() == "cannot read '/in/bad\\udcff.pdf'"
    assert to_wire(StageRow("d", "/in/ok.pdf", error="fine"))["error"] == "fine"  # valid text untouched


def test_hostile_folder_every_input_one_row(pdf_bytes, tiny_checkpoint, tmp_path):
    root, elsewhere = tmp_path / "in", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "plain.pdf").write_bytes(pdf_bytes)
    with open(os.fsencode(root) + b"/bad\xffname.pdf", "wb") as f:
        f.write(pdf_bytes)
    (root / "a::b.pdf").write_bytes(pdf_bytes)
    (elsewhere / "linked.pdf").write_bytes(pdf_bytes)
    (root / "sub").symlink_to(elsewhere, target_is_directory=True)
    os.mkfifo(root / "pipe.pdf")
    done: dict = {}

    def run():
        try:
            done["summary"] = raxdoc.extract([str(root)], str(tmp_path / "out"), model=str(tiny_checkpoint),
                                             profile=PROFILE.with_overrides(max_new_tokens=8))
        except BaseException as exc:  # re-raised below
            done["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(300)
    if worker.is_alive():
        pytest.fail("the run still hangs after 300 s (a FIFO opened for reading?)")
    if "error" in done:
        raise done["error"]
    docs = pd.read_parquet(tmp_path / "out" / "documents")
    by_source = {s[len(str(root)) + 1:] if s.startswith("/") else s: r for s, r in
                 zip(docs["source"], docs.to_dict("records"))}
    assert sorted(by_source) == sorted(["plain.pdf", f"file://{root}/bad%FFname.pdf", "a::b.pdf",
                                        "sub/linked.pdf", "pipe.pdf"])
    assert done["summary"].documents == 5
    assert by_source["pipe.pdf"]["error_type"] == "source_unreadable"
    assert "not a regular file" in by_source["pipe.pdf"]["error"]
    # The other four were read (one content, one doc_id) and went to the model, not to an error row.
    read = [r for name, r in by_source.items() if name != "pipe.pdf"]
    assert {r["doc_id"] for r in read} == {docs.loc[docs["source"].str.endswith("plain.pdf"), "doc_id"].item()}
    assert all(r["page_count"] == 1 and r["error_type"] not in ("source_unreadable", "source_not_found")
               for r in read), read


@pytest.fixture
def pdf_bytes(corpus):
    return corpus["good.pdf"].read_bytes()
