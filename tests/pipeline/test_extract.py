"""End to end on a local Ray: tiny random checkpoint, constrained grammar, good and broken inputs."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest

import raxdoc
from raxdoc.profiles import resolve_profile

# Small pages and outputs keep the CPU run short; the grammar still has to close the JSON.
PROFILE = resolve_profile("cpu", max_num_seqs=4, max_new_tokens=160, max_pixels=320 * 320, max_model_len=1024)

EXPECTED_ERRORS = {
    "encrypted.pdf": "encrypted_document",
    "not_a_pdf.pdf": "unsupported_format",
    "empty.pdf": "empty_document",
}


@pytest.fixture(scope="module")
def run(corpus, tiny_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    folder = corpus["good.pdf"].parent
    events = []
    summary = raxdoc.extract([str(folder)], str(out), model=str(tiny_checkpoint), profile=PROFILE,
                             on_progress=events.append)
    return summary, out, events


def test_one_documents_row_per_input_with_typed_errors(run, corpus, tiny_checkpoint):
    summary, out, _ = run
    docs = pd.read_parquet(out / "documents")
    assert len(docs) == len(corpus) == summary.documents
    # One row per input file: the two identical files share their content's doc_id, nothing else does.
    assert not docs.duplicated(["doc_id", "source"]).any()
    twins = docs[docs["doc_id"].duplicated(keep=False)]
    assert sorted(s.rsplit("/", 1)[-1] for s in twins["source"]) == ["good.pdf", "good_copy.pdf"]
    assert sum(any(i["kind"] == "duplicate_content" for i in issues) for issues in twins["issues"]) == 1
    by_name = {src.rsplit("/", 1)[-1]: row for src, row in zip(docs["source"], docs.to_dict("records"))}
    assert set(by_name) == set(corpus)
    for name, error_type in EXPECTED_ERRORS.items():
        assert by_name[name]["status"] == "error" and by_name[name]["error_type"] == error_type, by_name[name]
    truncated = by_name["truncated.pdf"]
    assert truncated["status"] == "error" or truncated["page_count"] >= 1  # repaired, or a typed error
    if truncated["status"] == "error":
        assert truncated["error_type"] in ("corrupt_document", "empty_document")
    for name in ("good.pdf", "good_copy.pdf", "two_pages.pdf", "scan.pdf"):
        row = by_name[name]
        assert row["error_type"] not in set(EXPECTED_ERRORS.values())
        assert row["page_count"] == (2 if name == "two_pages.pdf" else 1)
        # Every page is accounted for: read, or listed as failed with its cause.
        assert row["pages_ok"] + len(row["failed_pages"]) == row["page_count"]
        # Failed (gibberish from the random model) at parsing, never skipped as failed upstream.
        assert all(f["kind"] != "nan" and f["raw_text"] for f in row["failed_pages"]), row["failed_pages"]
        # The pages really went through the model, and constrained output (grammar + closer) always parses.
        assert row["engine_s"] > 0, row
        assert row["pages_ok"] == row["page_count"], row["failed_pages"]
    assert set(docs["model"]) == {str(tiny_checkpoint)}
    assert summary.ok + summary.partial + summary.error == summary.documents
    assert summary.pages == 5


def test_the_manifest_records_the_settings_and_what_the_engine_ran(run, tiny_checkpoint):
    import json

    _, out, _ = run
    manifest = json.loads((out / "_raxdoc.json").read_text())
    assert manifest["settings"]["model"] == str(tiny_checkpoint)
    assert manifest["settings"]["max_new_tokens"] == PROFILE.max_new_tokens
    # One engine actor, on CPU: our engine on the plain-torch paths; the self-check runs only on CUDA.
    (paths,) = manifest["engine_paths"]
    assert paths.startswith("reader=rax; linear_ops=torch;") and "self_check=not run" in paths, paths


def test_progress_starts_at_zero_and_ends_complete(run):
    summary, _, events = run
    assert events[0]["documents_done"] == 0 and events[0]["documents_total"] == summary.documents
    last = events[-1]
    assert last["documents_done"] == last["documents_total"] == summary.documents
    assert last["pages_done"] == last["pages_total"] == summary.pages
    done = [e["documents_done"] for e in events]
    assert done == sorted(done)


def test_parquet_reads_back_in_pandas_and_duckdb(run):
    _, out, _ = run
    table = pq.read_table(out / "documents")
    con = duckdb.connect()
    n, statuses = con.execute(
        f"SELECT count(*), list(DISTINCT status ORDER BY status) FROM read_parquet('{out}/documents/*.parquet')"
    ).fetchone()
    assert n == table.num_rows
    assert set(statuses) <= {"ok", "partial", "error"}
    items = list((out / "line_items").glob("*.parquet"))
    if items:
        li = con.execute(f"SELECT doc_id, page_index, item_index FROM read_parquet('{out}/line_items/*.parquet')").df()
        # Unique even with two identical input files: their items are written once per doc_id.
        assert not li.duplicated().any()
        assert set(li["doc_id"]) <= set(table.column("doc_id").to_pylist())


def test_rerun_skips_everything_and_adds_no_rows(run, corpus, tiny_checkpoint):
    summary, out, _ = run
    before = pq.read_table(out / "documents").num_rows
    again = raxdoc.extract([str(corpus["good.pdf"].parent)], str(out), model=str(tiny_checkpoint), profile=PROFILE)
    after = pq.read_table(out / "documents").num_rows
    assert after == before
    # Skipped by content hash, error rows included: the same bytes would fail the same way.
    assert again.skipped == summary.documents
    assert (again.ok, again.partial, again.error, again.pages) == (0, 0, 0, 0)
