"""An engine actor killed mid-run: Ray restarts it, the batch is retried, nothing is lost or doubled."""

from __future__ import annotations

import os
import sys

from ray import cloudpickle
import pandas as pd
import pytest

import raxdoc
from raxdoc.pipeline.engine_stage import EngineStage

from tests.pipeline.test_extract import PROFILE

KILL_MARKER = "RAXDOC_TEST_KILL_MARKER"


class DyingOnceEngineStage(EngineStage):
    """Kills its own process on its first batch, once per test (a marker file says it happened)."""

    def __call__(self, batch):
        marker = os.environ[KILL_MARKER]
        if not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            os._exit(1)  # as a segfault or an OOM kill would: no exception, no cleanup
        return super().__call__(batch)


@pytest.mark.slow
def test_killed_engine_actor_loses_nothing(corpus, tiny_checkpoint, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_MARKER, str(marker))  # local Ray workers inherit the driver's environment
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    inputs = [str(corpus[name]) for name in ("good.pdf", "two_pages.pdf", "scan.pdf", "encrypted.pdf")]
    summary = raxdoc.extract(inputs, str(tmp_path / "out"), model=str(tiny_checkpoint), profile=PROFILE,
                             engine_stage=DyingOnceEngineStage)
    assert marker.exists(), "the engine actor never died: the test proved nothing"
    docs = pd.read_parquet(tmp_path / "out" / "documents")
    assert sorted(s.rsplit("/", 1)[-1] for s in docs["source"]) == sorted(
        ["good.pdf", "two_pages.pdf", "scan.pdf", "encrypted.pdf"])
    assert docs["doc_id"].is_unique
    assert summary.documents == 4 and summary.pages == 4
    readable = docs[docs["source"].str.endswith(("good.pdf", "two_pages.pdf", "scan.pdf"))]
    assert (readable["pages_ok"] + readable["failed_pages"].map(len) == readable["page_count"]).all()
    assert not any(k == "lost" for k in docs["error_type"].dropna())
