"""The stand-in reader as an engine stage: as a plain callable, pickled, and through the real pipeline."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from ray import cloudpickle

import raxdoc
from raxdoc.eval import evaluate
from raxdoc.ingest.options import RenderOptions
from raxdoc.pipeline.ingest_stage import IngestStage
from raxdoc.pipeline.rows import decode_batch, encode_batch
from raxdoc.testing.invoices import write_corpus
from raxdoc.testing.standin import page_rng, read_page, read_pages
from raxdoc.testing.standin_stage import read_log, standin_stage

OPTIONS = RenderOptions(max_pixels=300 * 300, min_pixels=64 * 64)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three generated invoices (PDF + truth side by side), at least one of several pages."""
    folder = tmp_path_factory.mktemp("standin-corpus")
    paths = write_corpus(folder, 3, seed=5, pages=None)
    assert any(json.loads(p.with_suffix(".json").read_text())["meta"]["page_count"] > 1 for p in paths)
    return paths


def _batch(paths):
    return encode_batch([row for p in paths for row in IngestStage(OPTIONS).rows(str(p))])


def _truth(path):
    return json.loads(path.with_suffix(".json").read_text())


def test_pages_get_the_standins_text_and_errors_are_logged(corpus, tmp_path):
    stage = standin_stage(noise=0.5, seed=3, log_dir=tmp_path / "log")(model="unused", profile=None)
    rows = decode_batch(stage(_batch(corpus)))
    assert rows and all(r.pixels == b"" and r.error_type is None for r in rows)
    for row in rows:
        path = next(p for p in corpus if str(p) == row.source)
        want, _ = read_page(_truth(path), row.page_index, rng=page_rng(3, path.stem, row.page_index), noise=0.5)
        assert row.text == want and row.finish_reason == "stop"
    logged = read_log(tmp_path / "log")
    expected = [e.to_dict() for p in corpus for e in read_pages(_truth(p), seed=3, noise=0.5, doc_key=p.stem)[1]]
    assert len(expected) > 3  # noise 0.5 injects something on every document
    strip = ("source", "stem", "seed", "noise")
    assert sorted(json.dumps({k: v for k, v in e.items() if k not in strip}, sort_keys=True) for e in logged) == \
        sorted(json.dumps(e, sort_keys=True) for e in expected)
    assert {e["stem"] for e in logged} <= {p.stem for p in corpus}
    # One file per stage instance (per actor): a second instance never appends to the first's file.
    standin_stage(noise=0.5, seed=3, log_dir=tmp_path / "log")(model="unused", profile=None)(_batch(corpus[:1]))
    assert len(list((tmp_path / "log").glob("injected-*.jsonl"))) == 2
    assert len(read_log(tmp_path / "log")) == len(logged)  # the same errors again: read once


def test_a_page_without_truth_is_that_pages_engine_error(corpus, tmp_path):
    lonely = tmp_path / "lonely.pdf"
    lonely.write_bytes(corpus[0].read_bytes())  # no lonely.json beside it
    batch = _batch([lonely])
    rows = decode_batch(standin_stage()(model="unused", profile=None)(batch))
    assert rows and all(r.error_type == "engine_error" and "lonely.json" in r.error and r.text is None
                        for r in rows)
    # With truth_dir, the truth is found there by stem instead.
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "lonely.json").write_text(corpus[0].with_suffix(".json").read_text())
    rows = decode_batch(standin_stage(truth_dir=tmp_path / "truth")(model="unused", profile=None)(batch))
    assert all(r.error_type is None and r.text for r in rows)


def test_failed_rows_pass_through_untouched(corpus):
    rows = decode_batch(_batch(corpus[:1]))
    rows[0].error_type, rows[0].error = "page_error", "could not render"
    out = decode_batch(standin_stage()(model="unused", profile=None)(encode_batch(rows)))
    assert (out[0].error_type, out[0].error, out[0].text) == ("page_error", "could not render", None)


def test_arguments_are_checked_and_the_class_pickles(corpus):
    with pytest.raises(ValueError, match="noise"):
        standin_stage(noise=1.5)
    with pytest.raises(ValueError, match="kinds"):
        standin_stage(kinds=("misread_total",))
    with pytest.raises(ValueError, match="Invoice pages"):
        standin_stage()(model="unused", profile=None, schema="tests.schemas.sample_schema:Receipt")
    cls = cloudpickle.loads(cloudpickle.dumps(standin_stage(noise=0.25, seed=9, kinds=("dropped_line",))))
    assert (cls.NOISE, cls.SEED, cls.KINDS) == (0.25, 9, ("dropped_line",))
    rows = decode_batch(cls(model="unused", profile=None)(_batch(corpus[:1])))
    assert all(r.text for r in rows)


def test_through_the_real_pipeline(corpus, tiny_checkpoint, tmp_path):
    """A noisy reader on Ray's actors logs exactly the errors an offline read gives, and the rows show
    them. (The perfect reader through Ray, F1 1.0, is tests/bench/test_quality.py's run.)"""
    log = tmp_path / "log"
    summary = raxdoc.extract([str(p) for p in corpus], str(tmp_path / "out"), model=str(tiny_checkpoint),
                             profile="cpu", engine_stage=standin_stage(noise=0.5, seed=1, log_dir=log))
    assert (summary.documents, summary.pages) == (3, sum(_truth(p)["meta"]["page_count"] for p in corpus))
    logged = read_log(log)
    expected = sum(len(read_pages(_truth(p), seed=1, noise=0.5, doc_key=p.stem)[1]) for p in corpus)
    assert len(logged) == expected > 0  # the same errors whatever Ray's batching
    docs = pd.read_parquet(tmp_path / "out" / "documents")
    assert (docs["engine_s"] > 0).all() and set(docs["status"]) <= {"ok", "partial"}  # partial: checks fail
    written = sum(len(items) for items in docs["line_items"])
    truth_items = sum(len(_truth(p)["line_items"]) for p in corpus)
    dropped = sum(e["kind"] == "dropped_line" for e in logged)
    repeated = sum(e["kind"] == "repeated_line" for e in logged)
    # Postprocess re-reads dropped lines from the text layer (added_from_text) and removes lines
    # read twice but printed once (removed_repeated_line): between the reader's rows and the truth.
    assert truth_items - dropped <= written <= truth_items + repeated
    assert dropped + repeated > 0
    # The reader's errors were caught: repaired from the text layer or reported, never silently kept.
    kinds = {i["kind"] for issues in docs["issues"] for i in issues}
    assert kinds & {"added_from_text", "removed_repeated_line", "corrected_from_text", "possibly_missed_line"}
    assert 0.9 <= evaluate(tmp_path / "out", corpus[0].parent).line_item_f1 <= 1.0
