"""Other readers through the whole pipeline: tiny EXAONE 4.5 and ERNIE-4.5-VL checkpoints on local Ray.

One Ray for the module (both runs join it). Each run: one `documents` row per input, every page
read by the transformers backend under the grammar, so every page parses (no failed pages).
And a qwen3_5 checkpoint still builds our own Engine in EngineStage.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

import raxdoc
from raxdoc.engine import Engine
from raxdoc.engine.hf_reader import HfReader
from raxdoc.pipeline.engine_stage import EngineStage
from raxdoc.profiles import resolve_profile
from raxdoc.testing.hf_presets import FAMILIES, write_hf_checkpoint
from raxdoc.testing.invoices import write_corpus

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import ray

    from raxdoc.pipeline.graph import init_ray

    corpus = tmp_path_factory.mktemp("invoices")
    pdfs = [str(p) for p in write_corpus(corpus, 2, seed=5)]
    init_ray(None)
    out = {}
    try:
        for family in FAMILIES:
            ckpt = write_hf_checkpoint(tmp_path_factory.mktemp(f"ckpt-{family}"), family)
            target = tmp_path_factory.mktemp(f"out-{family}")
            summary = raxdoc.extract(pdfs, str(target), model=str(ckpt), profile="cpu", max_pages=1,
                                     max_new_tokens=160, einvoice="off")
            manifest = json.loads((target / "_raxdoc.json").read_text())
            out[family] = (summary, pq.read_table(str(target / "documents")).to_pylist(), manifest)
    finally:
        ray.shutdown()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_one_row_per_input_and_every_page_parses(runs, family):
    summary, docs, _ = runs[family]
    assert summary.documents == 2 and len(docs) == 2
    assert sorted(d["source"].rsplit("/", 1)[-1] for d in docs) == ["inv-0000.pdf", "inv-0001.pdf"]
    assert summary.pages == 2
    for doc in docs:
        # Random weights mostly write nulls: a parsed page with nothing in it is `empty_record`,
        # never a parse failure (the grammar held), never a reader error.
        assert doc["status"] in ("ok", "partial") or doc["error_type"] == "empty_record", \
            (doc["status"], doc["error_type"], doc["error"])
        assert not doc["failed_pages"], doc["failed_pages"]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_the_manifest_says_transformers_read_the_pages(runs, family):
    (paths,) = runs[family][2]["engine_paths"]
    assert paths.startswith("reader=transformers;") and f"model_type={family}" in paths, paths


def test_stage_builds_the_reader_the_checkpoint_needs(tiny_checkpoint, tmp_path):
    profile = resolve_profile("cpu", max_num_seqs=2, max_new_tokens=8, max_model_len=512)
    stage = EngineStage(str(tiny_checkpoint), profile, device="cpu")
    try:
        assert stage.reader_kind == "rax" and isinstance(stage.engine, Engine)
    finally:
        stage.close()
    stage = EngineStage(str(write_hf_checkpoint(tmp_path / "ex", "exaone4_5")), profile, device="cpu")
    try:
        assert stage.reader_kind == "transformers" and isinstance(stage.engine, HfReader)
    finally:
        stage.close()
