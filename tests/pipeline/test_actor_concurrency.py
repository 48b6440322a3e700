"""A real run keeps several Ray batches in flight on one engine actor (they share its EngineLoop).

Without that, each batch's last pages would decode alone while the next batch waits its turn.
"""

from __future__ import annotations

import os
import sys
import threading

import pandas as pd
import pymupdf
from ray import cloudpickle

import raxdoc
from raxdoc.pipeline.graph import engine_batch_size
from raxdoc.profiles import resolve_profile
from raxdoc.pipeline.engine_stage import EngineStage

LOG = "RAXDOC_TEST_CALL_LOG"
PROFILE = resolve_profile("cpu", max_num_seqs=4, max_new_tokens=24, max_pixels=256 * 256, max_model_len=2048)


class CallLoggingEngineStage(EngineStage):
    """Appends "+" when a call starts and "-" when it ends (one actor, so one file, in order)."""

    def __call__(self, batch):
        _log(f"+ {threading.get_ident()}")
        try:
            return super().__call__(batch)
        finally:
            _log("-")


def _log(line: str) -> None:
    with open(os.environ[LOG], "a") as f:
        f.write(line + "\n")


def test_batches_overlap_on_one_actor(tiny_checkpoint, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    for d in range(5):  # 10 pages: several batches of engine_batch_size(4) == 3
        doc = pymupdf.open()
        for p in range(2):
            doc.new_page(width=300, height=400).insert_text((40, 60), f"INVOICE {d}-{p}  Total 12,50 EUR")
        (folder / f"inv{d}.pdf").write_bytes(doc.tobytes())
    log = tmp_path / "calls.log"
    monkeypatch.setenv(LOG, str(log))  # local Ray workers inherit the driver's environment
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    summary = raxdoc.extract([str(folder)], str(tmp_path / "out"), model=str(tiny_checkpoint), profile=PROFILE,
                             engines=1, engine_stage=CallLoggingEngineStage)
    assert summary.documents == 5 and summary.pages == 10
    docs = pd.read_parquet(tmp_path / "out" / "documents")
    assert (docs["engine_s"] > 0).all()  # every page went through the engine
    lines = log.read_text().split("\n")[:-1]
    depth, deepest, threads = 0, 0, set()
    for line in lines:
        depth += 1 if line.startswith("+") else -1
        deepest = max(deepest, depth)
        if line.startswith("+"):
            threads.add(line.split()[1])
    assert engine_batch_size(PROFILE.max_num_seqs) == 3
    assert deepest >= 2 and len(threads) >= 2, lines
