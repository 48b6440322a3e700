"""Reruns into an existing output folder, through `extract()` without Ray: edited files, other
settings, `--retry-errors`, `source:` rows, unreachable URLs, and what Parquet readers see.

The dataset is a stand-in (`_InProcess`): the real ingest stage in this process, and a "model"
that reads every page as one invoice line naming the document's bytes.
"""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import raxdoc
from raxdoc.cli import app
from raxdoc.pipeline import run
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.pipeline.manifest import MANIFEST, SettingsChanged
from raxdoc.pipeline.rows import RowKind

LOSE, FAIL = "lose", "fail"


def _text(doc_id: str) -> str:
    return json.dumps({"invoice_number": f"INV-{doc_id[:6]}", "currency": "EUR", "line_items": [
        {"description": f"item of {doc_id[:8]}", "quantity": "2", "unit_price": "1,50", "amount": "3,00"}]})


class _InProcess:
    """`build_dataset`'s stand-in; `mode` LOSE: nothing comes back, FAIL: every page's engine step fails."""

    mode: str | None = None

    def __init__(self, sources, render, done, model, prof, schema, constrained, device, engines, stage, einvoice,
                 **kw):
        self.sources, self.ingest = sources, IngestStage(render, done, einvoice)

    def iter_batches(self, **kw):
        if self.mode == LOSE:
            return
        for source in self.sources:
            rows = list(self.ingest.rows(source))
            for row in rows:
                if row.kind is RowKind.PAGE and not row.failed:
                    row.pixels = b""
                    if self.mode == FAIL:
                        row.error_type, row.error = "engine_error", "the engine step failed"
                    else:
                        row.text = _text(row.doc_id)
            yield rows


@pytest.fixture
def offline(monkeypatch, tiny_checkpoint):
    """extract() with the stand-in dataset; returns a runner taking (inputs, out, **kw)."""
    monkeypatch.setattr(run, "init_ray", lambda address: False)
    monkeypatch.setattr(run, "build_dataset", _InProcess)
    monkeypatch.setattr(run, "decode_batch", lambda batch: batch)
    monkeypatch.setattr(run, "open_page_counter", lambda: None)
    monkeypatch.setattr(_InProcess, "mode", None)

    def extract(inputs, out, mode=None, **kw):
        monkeypatch.setattr(_InProcess, "mode", mode)
        kw = {"model": str(tiny_checkpoint), "profile": "cpu", "max_new_tokens": 8, **kw}
        return raxdoc.extract([str(i) for i in inputs] if isinstance(inputs, list) else str(inputs), str(out), **kw)

    return extract


@pytest.fixture
def folder(corpus, tmp_path):
    """in/: a.pdf and c.pdf (identical bytes), b.pdf (two pages)."""
    root = tmp_path / "in"
    root.mkdir()
    shutil.copy(corpus["good.pdf"], root / "a.pdf")
    shutil.copy(corpus["two_pages.pdf"], root / "b.pdf")
    shutil.copy(corpus["good.pdf"], root / "c.pdf")
    return root


def _docs(out) -> pd.DataFrame:
    docs = pd.read_parquet(out / "documents")
    docs["name"] = docs["source"].str.rsplit("/", n=1).str[-1]
    return docs.set_index("name")


def _items(out) -> pd.DataFrame:
    return duckdb.sql(f"SELECT * FROM read_parquet('{out}/line_items/*.parquet')").df()


def _edit(path) -> None:
    with open(path, "ab") as f:  # trailing bytes: still the same PDF to a reader, another doc_id
        f.write(f"\n% edited {path.name}\n".encode())


@pytest.mark.parametrize("write_every", [64, 1])
def test_an_edited_file_has_its_row_replaced_and_counts_as_processed(offline, folder, tmp_path, write_every):
    out = tmp_path / "out"
    first = offline(folder, out, write_every=write_every)
    assert first.documents == 3 and first.skipped == 0
    old = _docs(out)
    shared = old.loc["a.pdf", "doc_id"]
    assert old.loc["c.pdf", "doc_id"] == shared
    _edit(folder / "a.pdf")
    again = offline(folder, out, write_every=write_every)
    assert (again.ok + again.partial + again.error, again.skipped) == (1, 2)
    docs = _docs(out)
    assert sorted(docs.index) == ["a.pdf", "b.pdf", "c.pdf"]  # one row per path, not two for a.pdf
    assert docs.loc["a.pdf", "doc_id"] != shared and docs.loc["c.pdf", "doc_id"] == shared
    items = _items(out)
    assert not items.duplicated(["doc_id", "page_index", "item_index"]).any()
    # c.pdf still has the old bytes: their items stay, once, though a.pdf's row (their first) went.
    assert set(items["doc_id"]) == set(docs["doc_id"])
    # Every reader sees the same rows (write_every=1 leaves a zero-row part holding c.pdf's items' record).
    assert pl.read_parquet(f"{out}/documents/*.parquet").height == 3
    assert duckdb.sql(f"SELECT count(*) FROM '{out}/documents/*.parquet'").fetchall() == [(3,)]
    _edit(folder / "c.pdf")
    offline(folder, out, write_every=write_every)
    docs, items = _docs(out), _items(out)
    assert len(docs) == 3 and shared not in set(docs["doc_id"])
    assert set(items["doc_id"]) == set(docs["doc_id"])  # the old bytes' items went with their last row
    assert not items.duplicated(["doc_id", "page_index", "item_index"]).any()


def test_a_moved_file_with_the_same_bytes_still_resumes(offline, folder, tmp_path):
    out = tmp_path / "out"
    offline(folder, out)
    (folder / "b.pdf").rename(folder / "renamed.pdf")
    again = offline(folder, out)
    assert again.skipped == 3 and (again.ok, again.partial, again.error) == (0, 0, 0)
    assert len(_docs(out)) == 3


def test_other_settings_are_refused_until_overwrite(offline, folder, tmp_path):
    out = tmp_path / "out"
    offline(folder, out)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["settings"]["max_new_tokens"] == 8 and manifest["settings"]["schema"].endswith(":Invoice")
    before = sorted(p.name for p in (out / "documents").iterdir())
    with pytest.raises(SettingsChanged, match=r"max_new_tokens 8 \(this run: 9\).*--overwrite"):
        offline(folder, out, max_new_tokens=9)
    with pytest.raises(SettingsChanged, match=r"constrained True \(this run: False\)"):
        offline(folder, out, constrained=False)
    assert sorted(p.name for p in (out / "documents").iterdir()) == before
    redone = offline(folder, out, max_new_tokens=9, overwrite=True)
    assert redone.skipped == 0 and len(_docs(out)) == 3
    assert json.loads((out / MANIFEST).read_text())["settings"]["max_new_tokens"] == 9
    assert offline(folder, out, max_new_tokens=9).skipped == 3  # and now resumes with them


def test_other_settings_are_a_usage_error_on_the_command_line(offline, folder, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    offline(folder, out)
    result = CliRunner().invoke(app, ["extract", str(folder), "-o", str(out), "--model", str(tiny_checkpoint),
                                      "--profile", "cpu", "--max-new-tokens", "16", "-q"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "max_new_tokens 8 (this run: 16)" in text and "another -o" in text and "Traceback" not in text


def test_a_folder_from_before_the_manifest_is_adopted(offline, folder, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    offline(folder, out)
    (out / MANIFEST).unlink()
    assert offline(folder, out).skipped == 3  # resumes as before
    assert (out / MANIFEST).exists()
    (out / MANIFEST).unlink()
    # Its rows name the model they were made with: another one is refused, manifest or not.
    with pytest.raises(SettingsChanged, match="holds rows made with other settings: model"):
        offline(folder, out, model=str(tiny_checkpoint) + "/")


def test_retry_errors_replaces_error_rows_and_only_with_the_flag(offline, folder, tmp_path, corpus, tiny_checkpoint):
    out = tmp_path / "out"
    shutil.copy(corpus["encrypted.pdf"], folder / "locked.pdf")
    first = offline(folder, out, mode=FAIL)
    assert first.error == 4
    assert offline(folder, out).skipped == 4  # the default: errors are done (the same bytes fail alike)
    retried = offline(folder, out, retry_errors=True)
    assert (retried.ok + retried.partial, retried.error, retried.skipped) == (3, 1, 0)
    docs = _docs(out)
    assert sorted(docs.index) == ["a.pdf", "b.pdf", "c.pdf", "locked.pdf"]
    assert docs.loc["locked.pdf", "error_type"] == "encrypted_document"
    assert (docs.drop(index="locked.pdf")["status"] != "error").all()
    items = _items(out)
    assert set(items["doc_id"]) == set(docs.drop(index="locked.pdf")["doc_id"])
    assert not items.duplicated(["doc_id", "page_index", "item_index"]).any()
    # The flag on the command line: the one error row left is tried once more, and stays one row.
    result = CliRunner().invoke(app, ["extract", str(folder), "-o", str(out), "--model", str(tiny_checkpoint),
                                      "--profile", "cpu", "--max-new-tokens", "8", "--retry-errors", "-q"])
    assert result.exit_code == 1, result.output
    assert re.search(r"documents skipped \(already done\) +│ +3 ", result.output) and len(_docs(out)) == 4


def test_lost_rows_stay_until_their_input_is_written_again(offline, folder, tmp_path):
    out = tmp_path / "out"
    lost = offline(folder, out, mode=LOSE)
    assert lost.error == 3 and set(_docs(out)["error_type"]) == {"lost"}
    # A rerun over one of them: its row is replaced; the others' rows stay (they are not inputs now).
    again = offline([folder / "b.pdf"], out)
    docs = _docs(out)
    assert sorted(docs.index) == ["a.pdf", "b.pdf", "c.pdf"] and again.skipped == 0
    assert docs.loc["b.pdf", "status"] != "error" and docs.loc["a.pdf", "error_type"] == "lost"


def test_an_unreachable_url_is_an_error_row_saying_why(offline, folder, tmp_path):
    out = tmp_path / "out"
    url = "http://127.0.0.1:9/x.pdf"
    summary = offline([url, folder / "b.pdf"], out)
    assert summary.documents == 2 and summary.error == 1
    row = pd.read_parquet(out / "documents").set_index("source").loc[url]
    assert row["error_type"] == "source_unreadable" and "connect" in row["error"].lower(), row["error"]


# The driver end alone (no extract): what a rerun finds in the folder and what it leaves there.

def _store_with(tmp_path, *batches):
    from raxdoc.pipeline.store import OutputStore
    from raxdoc.schemas import Invoice
    from raxdoc.schemas.rows import documents_arrow_schema, error_row, to_table

    store = OutputStore(str(tmp_path / "out"))
    for batch in batches:
        rows = [{**error_row(d, s, "x", "y"), "status": status} for d, s, status in batch]
        store.write_batch(to_table(rows, documents_arrow_schema(Invoice)))
    return store


def _collector(store, sources, plan):
    from raxdoc.pipeline.collector import ResultCollector
    from raxdoc.pipeline.finish import FinishSettings
    from raxdoc.schemas import Invoice
    from raxdoc.schemas.rows import documents_arrow_schema, line_items_arrow_schema

    return ResultCollector(store, FinishSettings(Invoice, True, "tiny", "v"), documents_arrow_schema(Invoice),
                           line_items_arrow_schema(Invoice), sources, done_sources=plan.done_sources,
                           previous=plan.previous)


def test_an_old_row_a_killed_run_left_beside_the_new_one_goes_with_the_next_run(tmp_path):
    from raxdoc.pipeline.collector import resume_plan
    from raxdoc.pipeline.rows import StageRow

    store = _store_with(tmp_path, [("old", "/in/a.pdf", "ok")], [("new", "/in/a.pdf", "ok"), ("b", "/in/b.pdf", "ok")])
    plan = resume_plan(store)
    c = _collector(store, ["/in/a.pdf", "/in/b.pdf"], plan)
    c.add(StageRow("new", "/in/a.pdf", RowKind.SKIPPED))
    c.add(StageRow("b", "/in/b.pdf", RowKind.SKIPPED))
    c.close()
    assert sorted(store.done_rows()) == [("b", "/in/b.pdf"), ("new", "/in/a.pdf")]
    assert c.counts["skipped"] == 2


def test_a_lost_task_for_an_input_that_has_a_row_keeps_that_row(tmp_path):
    from raxdoc.pipeline.collector import resume_plan

    store = _store_with(tmp_path, [("h", "/in/y.pdf", "ok")])
    c = _collector(store, ["/in/y.pdf"], resume_plan(store))
    c.close()  # nothing came back for y this time
    assert store.done_rows() == {("h", "/in/y.pdf")} and c.counts["skipped"] == 1


def test_retry_errors_skips_only_doc_ids_whose_rows_are_all_errors(tmp_path):
    from raxdoc.pipeline.collector import resume_plan

    store = _store_with(tmp_path, [("e", "/in/x.pdf", "error"), ("f", "/in/y.pdf", "error"),
                                   ("f", "/in/z.pdf", "ok"), ("source:q", "/in/q.pdf", "error")])
    assert resume_plan(store).skip == {"e", "f"}
    assert resume_plan(store, retry_errors=True).skip == {"f"}  # f read fine once: its bytes are not at fault
